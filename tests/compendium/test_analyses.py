"""Which rows enter an analysis (compendium/analyses.py)."""
import pandas as pd

import helpers as h


def test_one_effect_per_study_prefers_direct_measure_and_post():
    effects = pd.DataFrame({"study_id": ["S", "S", "S", "T"], "effect_id": ["S_1", "S_2", "S_3", "T_1"],
                            "outcome_proxy": ["distress", "none", "none", "none"],
                            "adjusted": ["no", "yes", "no", "no"]})
    chosen = h.select_one_per_study(effects)
    assert list(chosen["effect_id"]) == ["S_3", "T_1"]
