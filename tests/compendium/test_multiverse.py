"""Every within-study choice as a multiverse (compendium/multiverse.py)."""
import numpy as np
import pandas as pd
import pytest

import helpers as h
from made_up import effect, review

ROWS = [effect("A", "A_1", yi=0.10, vi=0.01), effect("A", "A_2", yi=0.30, vi=0.01),
        effect("B", "B_1", yi=-0.20, vi=0.02), effect("B", "B_2", yi=0.00, vi=0.02), effect("B", "B_3", yi=0.40, vi=0.02),
        effect("C", "C_1", yi=0.05, vi=0.015)]


def test_two_by_three_choices_give_six_specifications():
    r = review()
    res = h.run_analyses(r, pd.DataFrame(ROWS))
    table, curves = h.multiverse_table(res, h.transform_of(r))
    row = table.iloc[0]
    assert (row["specifications"], row["combinations"], bool(row["sampled"]), row["studies_with_choices"]) == (6, 6, False, 2)
    specs = curves["osg"]
    assert len(specs) == 6 and specs["primary"].sum() == 1
    every = [h.fit_meta([a, b, 0.05], [0.01, 0.02, 0.015]) for a in (0.10, 0.30) for b in (-0.20, 0.00, 0.40)]
    estimates = sorted(float(np.tanh(f.estimate)) for f in every)
    assert sorted(specs["estimate"]) == pytest.approx(estimates)
    assert row["min_estimate"] == pytest.approx(estimates[0]) and row["max_estimate"] == pytest.approx(estimates[-1])
    primary = float(np.tanh(h.fit_meta([0.10, -0.20, 0.05], [0.01, 0.02, 0.015]).estimate))  # lower row ids
    assert row["primary_estimate"] == pytest.approx(primary)
    assert row["primary_rank"] == 1 + sum(e < primary - 1e-12 for e in estimates)
    lead = [h.fit_meta([a, b, 0.05], [0.01, 0.02, 0.015], test=res["osg"].test) for a in (0.10, 0.30) for b in (-0.20, 0.00, 0.40)]
    assert res["osg"].test == "adhoc"  # the leading test by default: modified Hartung–Knapp
    assert row["share_p_below_05"] == pytest.approx(np.mean([f.pval < 0.05 for f in lead]))
    assert "lower row id (a convention)" in row["primary_rule"]
    sentence = h.multiverse_sentences(table, "r")[0]
    assert "over all 6 specifications (2 studies with a choice)" in sentence and "lower row id (a convention)" in sentence


def test_above_the_limit_a_fixed_number_is_sampled_with_the_seed():
    sets = [pd.DataFrame({"x": range(4)})] * 3   # 64 combinations
    combos, total = h.specifications(sets, max_enumerated=10, sampled=8, seed=1)
    again, _ = h.specifications(sets, max_enumerated=10, sampled=8, seed=1)
    assert total == 64 and len(combos) == 8 and len(set(combos)) == 8 and combos == again
    everything, _ = h.specifications(sets, max_enumerated=64)
    assert len(everything) == 64


def test_no_multiverse_below_two_studies():
    r = review()
    res = h.run_analyses(r, pd.DataFrame(ROWS[:2]))
    table, curves = h.multiverse_table(res)
    assert table.empty and not curves
