"""The notebooks' one import: a short door onto the two layers of the compendium.

    import helpers as h

Everything below is re-exported from where it lives, so a reader can jump to the source:

========  ==========================================  =====================================
step      what                                        where
========  ==========================================  =====================================
engine    effect sizes, conversions, τ² estimators,   ``src/meta_analysis/`` (knows nothing
          models, heterogeneity, regression,          of these reviews; checked against
          influence, small-study methods, votes       metafor in ``tests/meta_analysis/``)
01        review folders, codebooks, validation       ``src/compendium/sheets.py``
01        characteristics, PRISMA flow, published     ``src/compendium/extraction.py``
02        rows → effect sizes, or to the box score    ``src/compendium/harmonise.py``
03, 04    analyses of ``review.json`` and tables      ``src/compendium/analyses.py``
04, 05    forest, funnel, PRISMA, direction plots     ``src/compendium/figures.py``
05        box scores and vote-count tables            ``src/compendium/box_scores.py``
report    HTML pages and the landing page             ``src/compendium/report.py``
all       paths, CSV tables, notebook display         ``src/compendium/files.py``, ``display.py``
========  ==========================================  =====================================
"""
from meta_analysis import *  # noqa: F401,F403  (the engine's public names, listed in its __all__)
from meta_analysis import __all__ as _engine_names

from compendium.analyses import (TRANSFORMS, Analysis, analyses_table, estimator_table, filter_rows,  # noqa: F401
                                 heterogeneity_table, leave_one_out_tables, reproduction_all, reproduction_table,
                                 run_analyses, run_subgroups, select_one_per_study, small_study_table, with_scope)
from compendium.box_scores import box_rows, box_score_table, role_rows  # noqa: F401
from compendium.display import heading, notebook_setup  # noqa: F401
from compendium.extraction import (extraction_overview, extraction_summary, prisma_counts,  # noqa: F401
                                   published_overview, study_characteristics)
from compendium.figures import (PALETTE, FigureOutput, effect_direction_plot, forest_plot, forest_plots,  # noqa: F401
                                funnel_plot, funnel_plots, plot_prisma, save_figure, set_style)
from compendium.files import project_root, read_table, write_table  # noqa: F401
from compendium.harmonise import (GENERATIONS, NotConvertible, conversion_summary, converted_view,  # noqa: F401
                                  derive_generation, generation_summary, harmonise, harmonise_correlational,
                                  harmonise_intervention, not_converted_view, prepost_sensitivity)
from compendium.report import NOTEBOOKS, build_report  # noqa: F401
from compendium.sheets import SHEETS, Review, SheetError, list_reviews, load_review, load_reviews, validate_sheet, validation_demo  # noqa: F401,E501
