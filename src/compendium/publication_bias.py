"""PET-PEESE and the step-function selection model per analysis (notebook 04), beside Egger's test and
trim-and-fill (``forest_funnel.small_study_table``), under the same small-k rule: nothing below
``min_k_small_study`` studies, and a row that says why.
"""
from __future__ import annotations

import warnings

import pandas as pd

from meta_analysis.selection import pet_peese, selection_model

from .analyses import fit_of
from .small_k import RULES, SmallKRules

COLUMNS = ["analysis", "k", "pet_estimate", "pet_pval", "peese_estimate", "chosen", "pet_peese_estimate",
           "pet_peese_ci_low", "pet_peese_ci_high", "selection_estimate", "selection_ci_low", "selection_ci_high",
           "selection_tau2", "delta", "lrt", "lrt_p", "note"]


def selection_methods_table(rows: pd.DataFrame, fits: pd.DataFrame, transform=None, step: float = 0.025,
                            rules: SmallKRules = RULES) -> pd.DataFrame:
    """One row per analysis: PET-PEESE and a three-parameter selection model, from ``min_k_small_study``.

    PET-PEESE: weighted regressions of yi on its standard error (PET) and on its variance (PEESE);
    PEESE's intercept is used when PET's is significant one-sided at 10 % (Stanley &
    Doucouliagos 2014; Stanley 2017). Selection model: ML random-effects model in which results
    with one-sided p above ``step`` are published with relative probability ``delta`` (the
    second interval's weight; the first is fixed at 1), tested by
    a likelihood-ratio test against the unadjusted model (Vevea & Hedges 1995). Estimates on the
    display scale via ``transform``; a model that cannot be fitted (e.g. no study on one side of
    the step) says why in ``note``.
    """
    f = transform or (lambda x: x)
    out = []
    for name, data in rows.groupby("analysis", sort=False):
        k = len(data)
        fit = fit_of(fits, name)
        row = {"analysis": name if fit is None else fit["label"], "k": k}
        if not rules.small_study_tests(k):
            out.append({**row, "note": f"not fitted: k < {rules.min_k_small_study}"})
            continue
        pp = pet_peese(data["yi"], data["vi"])
        row.update(pet_estimate=f(pp.pet_estimate), pet_pval=pp.pet_pval, peese_estimate=f(pp.peese_estimate),
                   chosen=pp.chosen, pet_peese_estimate=f(pp.estimate), pet_peese_ci_low=f(pp.ci_low),
                   pet_peese_ci_high=f(pp.ci_high), note="")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                sel = selection_model(data["yi"], data["vi"], steps=(step,))
            row.update(selection_estimate=f(sel.estimate), selection_ci_low=f(sel.ci_low),
                       selection_ci_high=f(sel.ci_high), selection_tau2=sel.tau2, delta=float(sel.delta[1]),
                       lrt=sel.lrt, lrt_p=sel.lrt_p)
            if caught:
                row["note"] = f"selection model: {caught[0].message}"
        except ValueError as error:
            row["note"] = f"selection model not fitted: {error}"
        out.append(row)
    return pd.DataFrame(out, columns=COLUMNS)
