"""Small made-up reviews whose right answers are known by hand (no real data, nothing extracted)."""
from pathlib import Path

import numpy as np
import pandas as pd

import helpers as h


def effect(study, row_id, yi=np.nan, vi=np.nan, n=100, **extra):
    """One converted row of a correlational review (yi on the z scale)."""
    row = {"study_id": study, "effect_id": row_id, "label": study, "yi": yi, "vi": vi, "n": n, "year": 2010,
           "help_seeking_type": "online_support_group", "outcome": "depressive_symptoms", "outcome_proxy": "none",
           "comparator": "continuous", "adjusted": "no", "direction": "positive", "significant": "yes",
           "statistic_as_printed": "made up", "source": "https://example.org", "location": "nowhere",
           "generation": "Millennials"}
    row.update(extra)
    return row


def review(meta=None, studies=None, screening=None, published=None) -> h.Review:
    """A correlational review with the rules of review.json that the compendium reads."""
    base = {"design": "correlational", "transform": "tanh", "display_metric": "r", "xlabel": "r",
            "review_year": 2020, "published_included_row": "meta_analysis",
            "direct_measure": {"column": "outcome_proxy", "values": ["none"]},
            "comparator": {"column": "comparator", "values": ["continuous", "non_users"]},
            "analyses": [{"name": "osg", "label": "Online support groups",
                          "filter": {"help_seeking_type": ["online_support_group"], "outcome": ["depressive_symptoms"]},
                          "published": "osg_published"}],
            "box_score_by": ["help_seeking_type", "outcome"]}
    base.update(meta or {})
    sheets = {"studies": studies if studies is not None else pd.DataFrame({"study_id": []}),
              "effects": pd.DataFrame(), "screening": screening if screening is not None else pd.DataFrame(),
              "published_results": published if published is not None else pd.DataFrame(
                  [{"review": "made_up", "analysis": "osg_published", "metric": "r", "estimate": 0.1, "p": 0.01,
                    "k": np.nan, "n": np.nan, "source": "doi:10.0/x abstract"},
                   {"review": "made_up", "analysis": "meta_analysis", "metric": "count", "estimate": 19, "p": np.nan,
                    "k": 19, "n": np.nan, "source": "doi:10.0/x abstract"}])}
    return h.Review("made_up", Path("."), base, pd.DataFrame(), sheets)
