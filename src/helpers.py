"""The notebooks' one import: a short door onto the two layers of the compendium.

    import helpers as h

The engine's public names (``meta_analysis/__init__.py``) and the compendium's
(``compendium/__init__.py``, one import line per module) are re-exported; the table says where
each step lives, so a reader can jump to the source:

========  ==========================================  ==========================================
step      what                                        where (under ``src/``)
========  ==========================================  ==========================================
engine    effect sizes, conversions, τ² estimators,   ``meta_analysis/`` (knows nothing of these
          models, heterogeneity, regression,          reviews; checked against metafor and
          influence and GOSH, small-study and         clubSandwich in ``tests/meta_analysis/``)
          selection methods, dependence and robust
          variance, votes, simulation
00        classic data, by hand, beside metafor       ``compendium/classic.py``
00        influence, GOSH, selection, dependence      ``compendium/classic_methods.py``
          beside metafor and clubSandwich
new       a review folder from a plain table          ``compendium/scaffold.py``
01        review folders, codebooks, validation       ``compendium/sheets.py``, ``value_checks.py``
01        characteristics, PRISMA 2020, published     ``compendium/extraction.py``
01, 03    risk of bias: sheet rules, RoB 2's          ``compendium/appraisal.py``,
          algorithm, variants; robvis figures         ``rob_figures.py``
03        GRADE certainty, summary of findings        ``compendium/certainty.py``
02        rows → effect sizes, plausibility screen    ``compendium/harmonise.py``
03        what enters an analysis, one per study      ``compendium/admission.py``
03        fits under z and Hartung–Knapp, tables      ``compendium/analyses.py``
03        sensitivity variants, sentences             ``compendium/sensitivity.py``
03        several effects per study: 3-level, CHE     ``compendium/dependence_view.py``
03        published results beside ours               ``compendium/comparison.py``
04        forest and funnel plots, small-study table  ``compendium/forest_funnel.py``
04        PET-PEESE and selection models              ``compendium/publication_bias.py``
04        influence table, Baujat and GOSH plots      ``compendium/influence_plots.py``
05        one vote per study per cell                 ``compendium/box_scores.py``
06        simulation lab: tables, figures, sentences  ``compendium/simulation_lab.py``
06        few studies of unequal precision; the       ``compendium/small_k_lab.py``
          cells nearest to our analyses
01, 05    PRISMA flow, effect-direction plot, style   ``compendium/figures.py``
02–05     sentences that interpret, built from        ``compendium/teaching.py``
          the numbers
all       small-k rules, stated once                  ``compendium/small_k.py``
all       paths, CSV tables; display and rounding     ``compendium/files.py``, ``display.py``
report    HTML pages and the landing page             ``compendium/report.py``
========  ==========================================  ==========================================
"""
from meta_analysis import *  # noqa: F401,F403  (the engine's public names, its __all__)
from compendium import *  # noqa: F401,F403  (the compendium's public names, its __all__)
import numpy as np, pandas as pd  # noqa: F401,E401  (notebook 00's arithmetic by hand)
