"""A general meta-analysis engine that knows nothing of any particular review.

Numbers agree with R metafor 3.8 to a relative 1e-6 (``tests/meta_analysis/``). Names follow
metafor's vocabulary (``yi``, ``vi``, ``tau2``, ``i2``, ``q``, ``ci_low``, ``pi_high`` ...).

=====================  ==================================================================
module                 what it holds (metafor's verb in brackets)
=====================  ==================================================================
``effect_sizes``       Fisher z, Hedges' g, SMCR, SMCC with their variances (``escalc``)
``conversions``        t, F, p, OR, β, χ², d and r into one another
``tau2_estimators``    HE, DL, SJ, PM, ML, REML estimators of τ²
``models``             the random-effects model with z or Hartung–Knapp tests (``rma.uni``)
``heterogeneity``      Q-profile intervals for τ², I², H² (``confint``)
``regression``         meta-regression and subgroup analysis (``rma(mods = )``)
``influence``          leave-one-out refits, case-deletion diagnostics, Baujat data (``leave1out``,
                       ``influence``, ``baujat``)
``gosh``               the model fitted to every subset of studies (``gosh``)
``small_study``        Egger's test and trim-and-fill (``regtest``, ``trimfill``)
``votes``              one vote per study, vote counting with a sign test
``dependence``         effects nested in studies: aggregation, three-level and CHE models (``rma.mv``)
``selection``          PET-PEESE and step-function selection models (``selmodel``)
``robust``             cluster-robust CR0/CR1/CR2 tests (``robust``; clubSandwich ``coef_test``)
``simulation``         simulated meta-analyses fitted in batches; coverage, bias, RMSE
``bayes``              the Bayesian random-effects model by numerical integration (R ``bayesmeta``)
=====================  ==================================================================
"""
from .bayes import TAU_PRIORS, TAU_SCALE_SMD, BayesFit, fit_bayes, tau_scale_fisher_z
from .bayes_batch import BayesBatch, fit_bayes_batch
from .dependence import MultilevelResult, aggregate_within, fit_multilevel
from .conversions import (beta_to_r, chi2_to_r, d_to_r, d_to_r_variance, f_to_d, or_to_d, p_to_d, p_to_r,
                          proportions_to_log_or_variance, proportions_to_or, r_to_d, r_to_z_variance, t_to_d,
                          t_to_r, variance_from_ci)
from .effect_sizes import cmicalc, d_to_g, hedges_g, r_to_z, smcc, smcr, smd_variance, z_to_r
from .heterogeneity import Tau2CI, tau2_ci
from .gosh import GoshResult, gosh
from .influence import baujat, influence_diagnostics, leave_one_out
from .models import TAU2_METHODS, MetaResult, compare_estimators, fit_meta
from .robust import RobustResult, robust_test
from .regression import MetaRegResult, SubgroupResult, meta_regression, subgroup_analysis
from .selection import PetPeeseResult, SelectionResult, pet_peese, selection_model
from .small_study import EggerResult, TrimFillResult, egger_test, trim_and_fill
from .votes import STUDY_DIRECTIONS, VoteCount, sign_test_p, study_direction, vote_count, wilson_interval
from .simulation import (BatchFit, SimulatedMeta, egger_batch, fit_meta_batch, simulate_meta, simulation_grid,
                         small_study_grid, study_sizes, trim_and_fill_k0)

__all__ = [
    "beta_to_r", "chi2_to_r", "d_to_r", "d_to_r_variance", "f_to_d", "or_to_d", "p_to_d", "p_to_r",
    "proportions_to_log_or_variance", "proportions_to_or", "r_to_d", "r_to_z_variance", "t_to_d", "t_to_r",
    "variance_from_ci",
    "cmicalc", "d_to_g", "hedges_g", "r_to_z", "smcc", "smcr", "smd_variance", "z_to_r",
    "Tau2CI", "tau2_ci", "leave_one_out", "TAU2_METHODS", "MetaResult", "compare_estimators", "fit_meta",
    "MetaRegResult", "SubgroupResult", "meta_regression", "subgroup_analysis", "EggerResult", "TrimFillResult",
    "egger_test", "trim_and_fill", "STUDY_DIRECTIONS", "VoteCount", "sign_test_p", "study_direction", "vote_count", "wilson_interval",
    "MultilevelResult", "aggregate_within", "fit_multilevel", "RobustResult", "robust_test",
    "PetPeeseResult", "SelectionResult", "pet_peese", "selection_model",
    "BatchFit", "SimulatedMeta", "egger_batch", "fit_meta_batch", "simulate_meta", "simulation_grid",
    "small_study_grid", "study_sizes", "trim_and_fill_k0",
    "influence_diagnostics", "baujat", "GoshResult", "gosh",
    "TAU_PRIORS", "TAU_SCALE_SMD", "BayesBatch", "BayesFit", "fit_bayes", "fit_bayes_batch", "tau_scale_fisher_z",
]
