"""The compendium layer: review folders, harmonisation, review-driven analyses, figures and report.

It builds on the general engine in ``meta_analysis`` and is the only place that knows what a
review folder under ``data/raw/`` looks like. Notebooks reach it through ``src/helpers.py``,
which re-exports the public names below; each line says which module a name lives in.
"""
# ruff: noqa: F401  (every name below is re-exported: __all__ is built from them at the end)
from types import ModuleType as _ModuleType

from .admission import (DEFAULT_ADMIT, DESIGN_KINDS, SELECTION_RULE, admission_flags, admit, admit_rule, describe_rule,
                        filter_design, filter_rows, last_eligible_year, one_effect_per_study, row_designs,
                        partial_association, select_one_per_study, with_scope)
from .analyses import (TRANSFORMS, Analysis, analysis_rows, choices_table, display_table, estimator_table,
                       fits_table, heterogeneity_table, heterogeneity_view, leave_one_out_tables, prediction_interval, run_analyses,
                       run_subgroups, subgroup_fits, transform_of)
from .appraisal import (alternative_sentence, check_risk_of_bias, jbi_overall, load_risk_of_bias, overall_judgement,
                        overall_of, parse_signalling, participants_of, rob2_domain_judgement,
                        rob_sensitivity_table, study_judgements, study_overall_column, support_counts,
                        support_sentence, votes_by_risk_of_bias)
from .bayes_view import (bayes_sentences, bayes_table, prior_dependence_sentence, prior_sensitivity_sentences,
                         prior_sensitivity_table, review_tau_scale, tau_posterior_figure, with_prior_dependence)
from .box_scores import (admitted_votes, cells_of, direction_plot_parts, role_table, study_votes, vote_count_table,
                         vote_count_variants, vote_rows, vote_sentences, worst_case_sentences, worst_case_votes)
from .certainty import certainty_table, findings_html, non_reporting, optimal_information_size, summary_of_findings
from .comparison import comparison_all, comparison_table, what_this_comparison_is
from .dependence_view import admitted_effects, dependence_sentences, dependence_table
from .display import (bullets, count_text, formatted, heading, notebook_setup, number_text, p_text, p_value_text, probability_text,
                      percent_text, quantity_text, show, Table, Text)
from .extraction import (extraction_overview, extraction_summary, flow_sentence, prisma_counts, published_overview,
                         study_characteristics)
from .figures import (PALETTE, comparison_plot, effect_direction_plot, FigureOutput, plot_prisma, save_figure,
                      set_style)
from .files import project_root, read_table, write_table
from .forest_funnel import (forest_plot, forest_plots, funnel_plot, funnel_plots, heterogeneity_line,
                            small_study_sentence, small_study_table, subgroup_difference_line)
from .harmonise import (GENERATIONS, PLAUSIBLE, conversion_summary, converted_view, derive_generation,
                        generation_summary, harmonise, harmonise_correlational, harmonise_generic,
                        harmonise_intervention, not_converted_view, NotConvertible, plausibility_screen,
                        prepost_sensitivity, sample_ids)
from .influence_plots import baujat_plot, gosh_plot, influence_figures, influence_sentence, influence_table
from .multiverse import choice_sets, multiverse, multiverse_sentences, multiverse_table, specification_curve, specifications
from .publication_bias import selection_methods_table
from .rob_figures import summary_plot, summary_shares, traffic_light_plot
from .report import NOTEBOOKS, build_info, build_report, BuildInfo, input_fingerprint, NotebookPage, render_page, report_exporter
from .scaffold import new_review
from .sensitivity import most_influential, sensitivity_sentences, sensitivity_table, sensitivity_view
from .sheets import (SHEETS, check_one_study_once, check_same_sample, list_reviews, load_review, load_reviews,
                     Review, SheetError, validate_sheet, validation_demo)
from .sources import canonical_links, NO_LINK, with_sources
from .simulation_lab import (coverage_figure, coverage_sentences, coverage_view, published_agreement_sentences,
                             published_comparison, small_study_sentences, tau2_figure, tau2_sentences, tau2_view)
from .small_k_lab import (nearest_cells, our_analyses, our_situation_sentences, small_k_figure, small_k_grid,
                          small_k_intervals, small_k_published, small_k_sentences, small_k_view)
from .small_k import LEAD_TESTS, RULES, SmallKRules, TEST_NAMES, name_of_test
from .teaching import *  # noqa: F401,F403  (sentences built from the numbers; its __all__)
from .classic import *  # noqa: F401,F403  (notebook 00: classic data, by hand, beside metafor; its __all__)
from .classic_methods import *  # noqa: F401,F403  (notebook 00: influence, GOSH, selection, dependence; its __all__)

__all__ = sorted(name for name, value in globals().items()
                 if not name.startswith("_") and not isinstance(value, _ModuleType))
