"""The compendium layer: review folders, harmonisation, review-driven analyses, figures and report.

It builds on the general engine in ``meta_analysis`` and is the only place that knows what a
review folder under ``data/raw/`` looks like. Notebooks reach it through ``src/helpers.py``.
"""
