"""GOSH (gosh.py) against metafor's gosh(): every subset of small sets, and the random sample."""
import json
from pathlib import Path

import numpy as np
import pytest

import meta_analysis as ma
from meta_analysis.gosh import FIELDS, GoshResult, _plan, gosh
from metafor_reference import close

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "influence_reference.json").read_text())


def data(name):
    return np.asarray(REF[name]["yi"]), np.asarray(REF[name]["vi"])


@pytest.mark.parametrize("name,method", [("normand", "FE"), ("normand", "DL"), ("normand", "REML"),
                                         ("hine", "FE"), ("hine", "DL")])
def test_every_subset_matches_metafor(name, method):
    yi, vi = data(name)
    expected = REF[name]["gosh"][method]
    result = gosh(yi, vi, method=method)
    assert result.exact and len(result.k) == 2 ** len(yi) - 1
    codes = result.incl @ (2 ** np.arange(len(yi)))
    assert codes.tolist() == expected["code"], "subsets in metafor's order"
    for field in FIELDS:
        close(getattr(result, field), expected[field], f"{name} {method} {field}")


def test_reference_has_heterogeneous_and_homogeneous_subsets():
    i2 = np.asarray(REF["normand"]["gosh"]["DL"]["i2"])
    assert (i2 == 0).any() and (i2 > 50).any()


@pytest.mark.parametrize("method", ["FE", "DL", "PM"])
def test_rows_are_the_fits_of_their_subsets(method):
    yi, vi = data("normand")
    result = gosh(yi, vi, method=method)
    whole = ma.fit_meta(yi, vi, method=method)
    assert result.incl[-1].all()
    for field in ("estimate", "q", "i2", "tau2"):
        close(getattr(result, field)[-1], getattr(whole, field), field)
    singles = result.k == 1
    close(result.estimate[singles], yi[np.argmax(result.incl[singles], axis=1)])
    row = 300
    sub = ma.fit_meta(yi[result.incl[row]], vi[result.incl[row]], method=method)
    close([result.estimate[row], result.q[row], result.tau2[row], result.i2[row]], [sub.estimate, sub.q, sub.tau2, sub.i2])


@pytest.mark.parametrize("method", ["FE", "DL"])
def test_random_subsets_are_seeded_fits(method):
    rng = np.random.default_rng(7)
    vi = rng.uniform(0.01, 0.1, 25)
    yi = rng.normal(0.2, np.sqrt(vi + 0.02))
    if method == "FE":  # the default sample, as metafor's: a million subsets
        assert _plan(25, None, 20) == (False, 1_000_000, 2 ** 25 - 1)
    small = gosh(yi, vi, method=method, subsets=500, seed=11)
    assert not small.exact and small.incl.shape == (500, 25)
    assert small.incl.any(1).all() and np.all(np.diff(small.k) >= 0)
    assert np.array_equal(small.k, small.incl.sum(1))
    assert np.array_equal(gosh(yi, vi, method=method, subsets=500, seed=11).incl, small.incl)
    assert not np.array_equal(gosh(yi, vi, method=method, subsets=500, seed=12).incl, small.incl)
    assert 11.5 < small.k.mean() < 13.5  # each study in with probability 1/2
    for row in (0, 250, 499):
        sub = ma.fit_meta(yi[small.incl[row]], vi[small.incl[row]], method=method)
        close([small.estimate[row], small.q[row], small.tau2[row]], [sub.estimate, sub.q, sub.tau2])


def test_exact_or_sampled_as_metafor_decides():
    yi, vi = data("hine")
    assert gosh(yi, vi, subsets=63).exact
    sampled = gosh(yi, vi, subsets=40)
    assert not sampled.exact and len(sampled.k) == 40
    assert not gosh(yi, vi, max_exact_k=5, subsets=100).exact, "k = 6 > max_exact_k: sampled though 63 <= 100"


def test_frame_and_chunks():
    yi, vi = data("normand")
    labels = [f"s{i}" for i in range(9)]
    result = gosh(yi, vi, method="DL", labels=labels)
    frame = result.to_frame()
    assert list(frame.columns) == list(FIELDS) + labels
    assert frame["s3"].tolist() == result.incl[:, 3].tolist()
    chunked = gosh(yi, vi, method="DL", labels=labels, chunk=9 * 7)
    for field in FIELDS:
        close(getattr(chunked, field), getattr(result, field), field)
    assert isinstance(result, GoshResult)


@pytest.mark.parametrize("kwargs,message", [
    ({"subsets": 1}, r"subsets = 1"),
    ({"subsets": 2.5}, r"subsets = 2.5"),
    ({"max_exact_k": 0}, r"max_exact_k = 0"),
    ({"labels": ["a", "a", "b"]}, r"must be distinct"),
    ({"labels": ["a", "k", "b"]}, r"must be distinct"),
    ({"labels": ["a", "b"]}, r"labels has 2 entries"),
    ({"method": "XX"}, r"method = 'XX'"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gosh([0.1, 0.2, 0.3], [0.01, 0.02, 0.03], **kwargs)


@pytest.mark.parametrize("yi,vi,message", [
    ([0.1, 0.2], [0.01, 0.02], r"k = 2 studies"),
    ([0.1, 0.2, 0.3], [0.01, 0.02], r"differ in length"),
    ([0.1, 0.2, 0.3], [0.01, -0.02, 0.02], r"vi\[1\] = -0.02"),
])
def test_bad_data_is_named(yi, vi, message):
    with pytest.raises(ValueError, match=message):
        gosh(yi, vi)


def test_too_many_subsets_to_enumerate():
    with pytest.raises(ValueError, match=r"max_exact_k = 30"):
        gosh(np.linspace(0, 1, 26), np.full(26, 0.05), max_exact_k=30, subsets=2 ** 26)


def test_twenty_studies_are_sampled_not_enumerated():
    # 2^20 - 1 = 1,048,575 subsets exceed the default cap of 1,000,000: a sample, as metafor draws
    assert _plan(20, None, 20) == (False, 1_000_000, 2 ** 20 - 1)
    assert _plan(19, None, 20) == (True, 2 ** 19 - 1, 2 ** 19 - 1)
    assert _plan(19, None, 18)[0] is False and _plan(10, 1023, 20)[0] and not _plan(10, 1022, 20)[0]
    # the same rule end to end, at a size that fits in a moment
    result = gosh(np.linspace(0, 1, 12), np.full(12, 0.05), method="DL", subsets=4094, members=False)
    assert not result.exact and len(result.k) == 4094 and result.total == 2 ** 12 - 1
    assert gosh(np.linspace(0, 1, 12), np.full(12, 0.05), method="DL", subsets=4095, members=False).exact


def test_a_large_sample_is_fitted_in_blocks_without_its_membership():
    yi, vi = np.linspace(0, 1, 400), np.linspace(0.01, 0.1, 400)
    with pytest.raises(ValueError, match="members=False"):
        gosh(yi, vi, subsets=1_000_000)
    lean = gosh(yi, vi, method="DL", subsets=30_000, members=False, chunk=400 * 50)
    full = gosh(yi, vi, method="DL", subsets=30_000)  # same seed, same blocks: the same sample
    assert lean.incl is None and list(lean.to_frame().columns) == list(FIELDS)
    for field in FIELDS:
        close(getattr(lean, field), getattr(full, field), field)
    row = 12_345
    sub = ma.fit_meta(yi[full.incl[row]], vi[full.incl[row]], method="DL")
    close(full.estimate[row], sub.estimate)
    close(full.i2[row], sub.i2)
