"""The notebooks' one import: a short door onto the two layers of the compendium.

    import helpers as h

Everything below is re-exported from where it lives, so a reader can jump to the source:

========  ==========================================  ==========================================
step      what                                        where (under ``src/``)
========  ==========================================  ==========================================
engine    effect sizes, conversions, τ² estimators,   ``meta_analysis/`` (knows nothing of these
          models, heterogeneity, regression,          reviews; checked against metafor in
          influence, small-study methods, votes       ``tests/meta_analysis/``)
01        review folders, codebooks, validation       ``compendium/sheets.py``
01        characteristics, PRISMA 2020, published     ``compendium/extraction.py``
02        rows → effect sizes, plausibility screen    ``compendium/harmonise.py``
03        what enters an analysis, one per study      ``compendium/admission.py``
03        fits under z and Hartung–Knapp, tables      ``compendium/analyses.py``
03        sensitivity variants, sentences             ``compendium/sensitivity.py``
03        published results beside ours               ``compendium/comparison.py``
all       small-k rules, stated once                  ``compendium/small_k.py``
04        forest and funnel plots, small-study table  ``compendium/forest_funnel.py``
01, 05    PRISMA flow, effect-direction plot, style   ``compendium/figures.py``
05        one vote per study per cell                 ``compendium/box_scores.py``
report    HTML pages and the landing page             ``compendium/report.py``
all       paths, CSV tables; display and rounding     ``compendium/files.py``, ``display.py``
========  ==========================================  ==========================================
"""
from meta_analysis import *  # noqa: F401,F403  (the engine's public names, listed in its __all__)

from compendium.admission import (DEFAULT_ADMIT, SELECTION_RULE, admission_flags, admit, admit_rule,  # noqa: F401
                                  describe_rule, filter_rows, one_effect_per_study, select_one_per_study, with_scope)
from compendium.analyses import (TRANSFORMS, Analysis, analysis_rows, choices_table, display_table,  # noqa: F401
                                 estimator_table, fits_table, heterogeneity_table, heterogeneity_view,
                                 leave_one_out_tables,
                                 run_analyses, run_subgroups, subgroup_fits, transform_of)
from compendium.box_scores import (admitted_votes, cells_of, role_table, study_votes, vote_count_table,  # noqa: F401
                                   vote_rows, vote_sentences)
from compendium.comparison import comparison_all, comparison_table, what_this_comparison_is  # noqa: F401
from compendium.display import Text, bullets, count_text, formatted, heading, notebook_setup, p_text, show  # noqa: F401
from compendium.extraction import (extraction_overview, extraction_summary, flow_sentence, prisma_counts,  # noqa: F401
                                   published_overview, study_characteristics)
from compendium.figures import PALETTE, FigureOutput, effect_direction_plot, plot_prisma, save_figure, set_style  # noqa: F401,E501
from compendium.files import project_root, read_table, write_table  # noqa: F401
from compendium.forest_funnel import (forest_plot, forest_plots, funnel_plot, funnel_plots,  # noqa: F401
                                      small_study_sentence, small_study_table)
from compendium.harmonise import (GENERATIONS, PLAUSIBLE, NotConvertible, conversion_summary,  # noqa: F401
                                  converted_view, derive_generation, generation_summary, harmonise,
                                  harmonise_correlational, harmonise_intervention, not_converted_view,
                                  plausibility_screen, prepost_sensitivity)
from compendium.influence_plots import baujat_plot, gosh_plot  # noqa: F401
from compendium.report import NOTEBOOKS, build_report  # noqa: F401
from compendium.sensitivity import most_influential, sensitivity_sentences, sensitivity_table  # noqa: F401
from compendium.sheets import (SHEETS, Review, SheetError, check_one_study_once, check_same_sample, list_reviews,  # noqa: F401
                               load_review, load_reviews, validate_sheet, validation_demo)
from compendium.small_k import RULES, SmallKRules  # noqa: F401
