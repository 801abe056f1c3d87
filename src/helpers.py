"""The notebooks' one import: a short door onto the two layers of the compendium.

    import helpers as h

The engine's public names (``meta_analysis/__init__.py``) and the compendium's
(``compendium/__init__.py``, one import line per module) are re-exported; the table says where
each step lives, so a reader can jump to the source:

========  ==========================================  ==========================================
step      what                                        where (under ``src/``)
========  ==========================================  ==========================================
engine    effect sizes, conversions, τ² estimators,   ``meta_analysis/`` (knows nothing of these
          models, heterogeneity, regression,          reviews; checked against metafor in
          influence, small-study methods, votes,      ``tests/meta_analysis/``)
          dependence and robust variance
01        review folders, codebooks, validation       ``compendium/sheets.py``
01        characteristics, PRISMA 2020, published     ``compendium/extraction.py``
02        rows → effect sizes, plausibility screen    ``compendium/harmonise.py``
03        what enters an analysis, one per study      ``compendium/admission.py``
03        fits under z and Hartung–Knapp, tables      ``compendium/analyses.py``
03        sensitivity variants, sentences             ``compendium/sensitivity.py``
03        several effects per study: 3-level, CHE     ``compendium/dependence_view.py``
03        published results beside ours               ``compendium/comparison.py``
all       small-k rules, stated once                  ``compendium/small_k.py``
06        simulation lab: tables, figures, sentences  ``compendium/simulation_lab.py``
04        forest and funnel plots, small-study table  ``compendium/forest_funnel.py``
04        PET-PEESE and selection models              ``compendium/publication_bias.py``
01, 05    PRISMA flow, effect-direction plot, style   ``compendium/figures.py``
05        one vote per study per cell                 ``compendium/box_scores.py``
report    HTML pages and the landing page             ``compendium/report.py``
all       paths, CSV tables; display and rounding     ``compendium/files.py``, ``display.py``
00, all   classic data; sentences from the numbers    ``compendium/classic.py``, ``teaching.py``
========  ==========================================  ==========================================
"""
from meta_analysis import *  # noqa: F401,F403  (the engine's public names, its __all__)
from compendium import *  # noqa: F401,F403  (the compendium's public names, its __all__)
import numpy as np, pandas as pd  # noqa: F401,E401  (notebook 00's arithmetic by hand)
