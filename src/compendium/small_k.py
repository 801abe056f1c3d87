"""Small-k rules, stated once and applied by every analysis, table and figure of the compendium.

With few studies, τ² is poorly estimated, Wald (z) intervals are too narrow, prediction intervals
are unstable and tests of funnel asymmetry have almost no power. The rules below say what is shown
at which k; each table row and figure caption says which rule applied.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SmallKRules:
    """What the compendium computes at a given number of studies k.

    Attributes
    ----------
    min_k_pool : int
        No pooling below this k: a single study is shown, not pooled (default 2).
    min_k_prediction : int
        Prediction interval from this k (default 3), always on t(k − 2): μ̂ ± t(k − 2)·sqrt(SE² + τ²)
        (Higgins, Thompson & Spiegelhalter 2009; Riley, Higgins & Deeks 2011; Cochrane Handbook
        10.10.4.3). Two of the k degrees of freedom go to μ̂ and τ̂², so at k = 3 one is left and the
        interval is honestly wide; never on z, which ignores that τ² is estimated.
    min_k_small_study : int
        Egger's test and trim-and-fill from this k (default 10; Sterne et al. 2011). Funnel plots
        may be drawn below it, labelled descriptive.
    min_k_group : int
        A subgroup test only when every group has at least this many studies (default 2).
    knha_below : int
        Below this k the leading test must not be z (default 10; IntHout et al. 2014): the
        compendium leads with the modified Hartung–Knapp test at every k (``ci_method``) and shows
        the z interval beside it, labelled.
    min_studies_sign_test : int
        A sign test and Wilson interval of a vote count only from this many studies with a
        direction (positive or negative) in the cell (default 5).
    """

    min_k_pool: int = 2
    min_k_prediction: int = 3
    min_k_small_study: int = 10
    min_k_group: int = 2
    knha_below: int = 10
    min_studies_sign_test: int = 5

    def pooled(self, k: int) -> bool:
        return k >= self.min_k_pool

    def prediction(self, k: int) -> bool:
        return k >= self.min_k_prediction

    def small_study_tests(self, k: int) -> bool:
        return k >= self.min_k_small_study

    def sign_test(self, k_direction: int) -> bool:
        return k_direction >= self.min_studies_sign_test


RULES = SmallKRules()

TEST_NAMES = {"z": "z (Wald)", "knha": "Hartung–Knapp", "adhoc": "modified Hartung–Knapp"}
"""What each ``ci_method`` is called in tables, sentences and figures."""
LEAD_TESTS = tuple(TEST_NAMES)
"""The tests every pooled row is fitted under; ``ci_method`` chooses the one it leads with."""


def name_of_test(test: str) -> str:
    """The reader's name of a test (``"adhoc"`` → "modified Hartung–Knapp")."""
    if test not in TEST_NAMES:
        raise ValueError(f"ci_method = {test!r}: use one of {LEAD_TESTS}")
    return TEST_NAMES[test]
