"""Box scores that are vote counts (notebook 05), as SWiM asks (Campbell et al. 2020; Cochrane
Handbook ch. 12; Boon & Thomson 2021): a vote is the direction of an effect, never its
significance; a result without a direction votes ``unclear``; a study's significance is kept as
printed. One vote per study per cell, outcomes of opposite meaning never in one test, converted
studies voting too, and a sign test only where enough studies vote and both directions can occur.

The cells are the ``box_score_by`` columns of ``review.json``; ``outcome`` is always among them
(review A also splits them by ``design``). A review's ``"box_score_admit"`` says whether proxies,
other comparators and later studies vote (the defaults follow the review's ``"admit"``); every
admitted one is counted in the table, and every cell is counted again without proxies.
``"box_score_one_direction"`` (``{column: [values]}``) names the cells whose results can come out
in one direction only (an indirect effect is reported when found, in the direction the
intervention works): they are counted, not tested.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from meta_analysis.votes import study_direction, vote_count

from .admission import DEFAULT_ADMIT, FLAGS, admission_flags, admit, filter_rows
from .harmonise import sample_ids
from .sheets import Review
from .small_k import RULES, SmallKRules

ROW_COLUMNS = ["study_id", "sample_id", "probable_sample_id", "result_id", "outcome", "direction", "significant", "basis", "statistic_as_printed",
               "source", "location", "proxy", "other_comparator", "later_study", "partial", "marks"]
VOTE_COLUMNS = ["k_studies", "positive", "negative", "null", "mixed", "unclear", "sign_test_p", "ci_low", "ci_high",
                "results", "converted_studies", "proxy", "other_comparator", "later_study", "partial", "note"]
VARIANTS = ("as admitted", "without proxies", "probable same-sample pairs merged")


def cells_of(review: Review) -> list[str]:
    """The cell columns of the review's box score, with ``outcome`` always among them."""
    by = list(review.meta.get("box_score_by", []))
    return by if "outcome" in by else by + ["outcome"]


def vote_rows(review: Review, converted: pd.DataFrame, not_converted: pd.DataFrame) -> pd.DataFrame:
    """Every result that votes, one row each, with its cell columns and admission flags.

    Converted rows vote with the sign of their estimate (``basis`` = "estimate"), the others with
    their coded direction (``basis`` = "as coded"); every row keeps its significance as printed
    (``significant`` of the sheet), never one recomputed from a converted estimate. Correlational
    reviews: every association, cell = the ``box_score_by`` columns (review A: help-seeking type ×
    outcome × design). Intervention reviews: self-efficacy results of the intervention arms (role
    "effect, between groups" / "effect, within group", outcome "self-efficacy") and the
    predictor/moderator/mediator rows of ``box_scores.csv``, whose outcome cell is "benefit on" the
    row's ``outcome_domain`` (the codebook codes their direction as benefit).
    """
    frames = []
    effect_filter = review.meta.get("box_score_filter", {})
    for frame, basis in ((converted, "estimate"), (not_converted, "as coded")):
        if not len(frame):
            continue
        frame = filter_rows(frame, effect_filter) if effect_filter else frame
        frame = frame.copy()
        if basis == "estimate":
            frame["direction"] = np.where(frame["yi"] > 0, "positive", np.where(frame["yi"] < 0, "negative", "null"))
        frame["basis"] = basis
        frame["result_id"] = frame["effect_id" if "effect_id" in frame else "outcome_id"]
        if review.design == "intervention":
            frame["role"] = np.where(frame["comparison"] == "between", "effect, between groups", "effect, within group")
            frame["outcome"] = "self-efficacy"
        frames.append(frame)
    if review.design == "intervention" and len(review.sheets.get("box_scores", [])):
        box = review.sheets["box_scores"].merge(review.sheets["studies"][["study_id", "year"]], on="study_id", how="left")
        box = box.merge(sample_ids(review.sheets["studies"]), on="study_id", how="left")
        domain = (box["outcome_domain"].str.replace("_", " ") if "outcome_domain" in box
                  else pd.Series("mental-health outcomes", index=box.index))
        frames.append(box.assign(basis="as coded", result_id=box["box_id"], outcome_as_printed=box["outcome"],
                                 outcome="benefit on " + domain))
    if not frames:
        return pd.DataFrame(columns=ROW_COLUMNS)
    rows = pd.concat(frames, ignore_index=True)
    rows = admission_flags(rows, review.meta)
    cells = cells_of(review)
    rows["sample_id"] = rows["sample_id"].fillna(rows["study_id"]) if "sample_id" in rows else rows["study_id"]
    rows["probable_sample_id"] = (rows["probable_sample_id"].fillna(rows["sample_id"]) if "probable_sample_id" in rows
                                  else rows["sample_id"])
    keep = [c for c in cells if c not in ROW_COLUMNS] + ROW_COLUMNS + (
        ["design"] if "design" in rows and "design" not in cells else [])
    return rows[keep].sort_values(cells + ["study_id", "result_id"]).reset_index(drop=True)


def box_admit_rule(review: Review) -> dict:
    """What votes: ``"box_score_admit"`` of review.json over its ``"admit"`` over the defaults; an
    adjusted estimate (a partial association) votes by its direction unless ``"box_score_admit"``
    says otherwise: it has a direction even where it does not pool."""
    return {**DEFAULT_ADMIT, **review.meta.get("admit", {}), "adjusted_estimates": True,
            **review.meta.get("box_score_admit", {})}


def _printed_significance(values: pd.Series) -> str:
    values = values.fillna("unclear").astype(str)
    return "yes" if (values == "yes").any() else "no" if (values == "no").all() else "unclear"


def study_votes(rows: pd.DataFrame, cells: list[str], threshold: float = 0.7) -> pd.DataFrame:
    """One vote per study per cell by :func:`meta_analysis.votes.study_direction` (the 70 % rule).

    ``significant`` is as printed: "yes" when at least one of the study's results in the cell was
    printed significant, "no" when all were printed not significant, else "unclear"; ``results``
    counts them. Papers on one sample (``sample_id``) vote once, under
    "A + B".
    """
    columns = cells + ["study_id", "vote", "results", "significant", "converted", "results_as_printed", "source",
                       "proxy", "other_comparator", "later_study", "partial", "marks"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    unit = "sample_id" if "sample_id" in rows else "study_id"
    out = []
    for key, block in rows.groupby(cells + [unit], sort=True):
        out.append({**dict(zip(cells, key)), "study_id": " + ".join(dict.fromkeys(block["study_id"])),
                    "vote": study_direction(block["direction"], threshold=threshold),
                    "results": len(block), "significant": _printed_significance(block["significant"]),
                    "converted": bool((block["basis"] == "estimate").any()),
                    "results_as_printed": " | ".join(block["statistic_as_printed"].astype(str)),
                    "source": " | ".join(dict.fromkeys(block["source"].astype(str))),
                    **{flag: bool(block[flag].any()) for flag in FLAGS},
                    "marks": "".join(dict.fromkeys("".join(block["marks"])))})
    return pd.DataFrame(out, columns=columns)


def _one_direction(row: dict, one_direction: dict | None) -> bool:
    return bool(one_direction) and all(str(row.get(c)) in [str(v) for v in values]
                                       for c, values in one_direction.items())


def vote_count_table(votes: pd.DataFrame, cells: list[str], level: float = 0.95, rules: SmallKRules = RULES,
                     one_direction: dict | None = None) -> pd.DataFrame:
    """Counts of study votes per cell; the sign test and Wilson interval only where enough studies vote.

    The vote columns (positive, negative, null, mixed, unclear) add up to ``k_studies``. The exact
    sign test (positive against negative) and the Wilson interval of the positive share are
    computed when at least ``rules.min_studies_sign_test`` studies vote positive or negative and
    the cell is not one where only one direction can be reported (``one_direction``,
    ``{column: [values]}``, e.g. ``{"role": ["mediator"]}``: an indirect effect is reported when
    it is found, in the direction the intervention works, so a sign test would test nothing);
    otherwise they are left empty and ``note`` says why. Counts of studies with each admission
    flag say where proxies, other comparators or later studies voted.
    """
    rows = []
    for key, block in votes.groupby(cells, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        counts = {d: int((block["vote"] == d).sum()) for d in ("positive", "negative", "null", "mixed", "unclear")}
        row = {**dict(zip(cells, key)), "k_studies": len(block), **counts, "results": int(block["results"].sum()),
               "converted_studies": int(block["converted"].sum()),
               **{flag: int(block[flag].sum()) for flag in FLAGS}}
        voting = counts["positive"] + counts["negative"]
        if _one_direction(row, one_direction):
            row["note"] = "not tested: results of this kind are reported in one direction only (counted)"
        elif rules.sign_test(voting):
            vc = vote_count(["positive"] * counts["positive"] + ["negative"] * counts["negative"], level=level)
            row.update(sign_test_p=vc.sign_test_p, ci_low=vc.ci_low, ci_high=vc.ci_high, note="")
        else:
            row["note"] = (f"not tested: {voting} {'study' if voting == 1 else 'studies'} with a direction "
                           f"(< {rules.min_studies_sign_test})")
        rows.append(row)
    return pd.DataFrame(rows, columns=cells + VOTE_COLUMNS)


def vote_count_variants(rows: pd.DataFrame, cells: list[str], threshold: float = 0.7, level: float = 0.95,
                        rules: SmallKRules = RULES, one_direction: dict | None = None) -> pd.DataFrame:
    """:func:`vote_count_table` for every cell as admitted and again without proxies (``variant``).

    ``rows`` are the results of :func:`vote_rows` (one per result), so that without proxies each
    study's vote is recounted (:func:`study_votes`) from its results that measure the outcome
    directly; a study with proxies only drops out of the cell. Where review.json's studies name
    probable same-sample pairs (``probable_sample_id`` differs), a third variant counts each pair as
    one study.
    """
    frames = []
    merged = ("probable_sample_id" in rows and len(rows)
              and (rows["probable_sample_id"].fillna(rows["sample_id"]) != rows["sample_id"]).any())
    for variant in VARIANTS if merged else VARIANTS[:2]:
        frame = (rows if variant == VARIANTS[0] else rows[~rows["proxy"].astype(bool)] if variant == VARIANTS[1]
                 else rows.assign(sample_id=rows["probable_sample_id"].fillna(rows["sample_id"])))
        table = vote_count_table(study_votes(frame, cells, threshold), cells, level, rules, one_direction)
        table.insert(0, "variant", variant)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def role_table(votes: pd.DataFrame, roles=("mediator", "moderator", "predictor")) -> pd.DataFrame:
    """Self-efficacy as mediator, moderator or predictor: one row per study with its results and source."""
    if votes.empty or "role" not in votes:
        return pd.DataFrame(columns=["role", "outcome", "study_id", "vote", "results", "significant",
                                     "results_as_printed", "source"])
    rows = votes[votes["role"].isin(roles)]
    return rows[["role", "outcome", "study_id", "vote", "results", "significant", "results_as_printed",
                 "source"]].sort_values(["role", "study_id"]).reset_index(drop=True)


def direction_plot_parts(votes: pd.DataFrame, cells: list[str]):
    """(file suffix, title, votes, columns) for one effect-direction plot per value of every cell column
    but the last, which gives the columns: a few columns per plot, readable at a report's width."""
    if len(cells) < 2:
        yield "", "", votes, cells
        return
    for key, block in votes.groupby(cells[:-1], sort=True):
        key = key if isinstance(key, tuple) else (key,)
        suffix = "_".join(str(k).replace(" ", "_").replace(",", "") for k in key)
        yield suffix, " · ".join(str(k).replace("_", " ") for k in key), block, cells[-1:]


def admitted_votes(review: Review, rows: pd.DataFrame) -> pd.DataFrame:
    """The vote rows that :func:`box_admit_rule` admits."""
    return admit(rows, box_admit_rule(review)) if len(rows) else rows


def vote_sentences(table: pd.DataFrame, cells: list[str]) -> list[str]:
    """What the vote-count table (:func:`vote_count_table`) leaves untested, in one sentence, built from
    its numbers: the cells without a sign test (their note says why) with their study counts, and how
    many cells are tested (their reading follows in :func:`~compendium.teaching.vote_reading`). The
    table itself holds every count; the sentence does not repeat it.
    """
    from .display import count_text

    untested = table[table["note"].fillna("") != ""]
    tested = len(table) - len(untested)
    if untested.empty:
        return [f"Every cell ({count_text(tested, 'cell')}) has a sign test; each is read below."]
    def cell_name(r) -> str:
        name = " · ".join(str(r[c]).replace("_", " ") for c in cells)
        return name + (f" ({r['variant']})" if "variant" in r and r["variant"] != VARIANTS[0] else "")

    names = "; ".join(f"{cell_name(r)} ({count_text(r['k_studies'], 'study')})" for _, r in untested.iterrows())
    reasons = "; ".join(dict.fromkeys(re.sub(r"^\d+ stud(y|ies) with a direction \(< (\d+)\)$",
                                             r"fewer than \2 studies with a direction", str(n).removeprefix("not tested: "))
                                      for n in untested["note"]))
    return [f"{count_text(len(untested), 'cell')} of {len(table)} {'has' if len(untested) == 1 else 'have'} no sign "
            f"test ({reasons}): {names}. " + (f"The other {count_text(tested, 'cell')} {'is' if tested == 1 else 'are'} "
                                               "read below." if tested else "No cell is tested.")]


def worst_case_votes(table: pd.DataFrame, cells: list[str], level: float = 0.95) -> pd.DataFrame:
    """Every tested cell with null votes counted again as if each null had gone against the majority.

    A null vote is a study that printed only "no significant difference", no estimate: its direction
    is unknown, and it is known mostly where a result was significant. The worst case counts every
    such study with the minority: with P majority and M minority votes and Z nulls, the sign test of
    P against M + Z (:func:`meta_analysis.votes.sign_test_p`) and the Wilson interval of the
    majority's share P/(P + M + Z) (:func:`meta_analysis.votes.wilson_interval`), beside the same
    quantities as counted. A bound, not an estimate (Cochrane Handbook 12.4.2.3; Campbell et al.
    2020). Only cells with a sign test (empty ``note``) and at least one null vote.
    """
    from meta_analysis.votes import sign_test_p, wilson_interval

    columns = cells + ["majority", "majority_votes", "minority_votes", "null", "majority_share", "ci_low", "ci_high",
                       "sign_test_p", "worst_majority_share", "worst_ci_low", "worst_ci_high", "worst_sign_test_p"]
    out = []
    tested = table[(table["note"].fillna("") == "") & (table["null"] > 0)]
    for _, r in tested.iterrows():
        side = "positive" if r["positive"] >= r["negative"] else "negative"
        major, minor, null = int(r[side]), int(r["negative" if side == "positive" else "positive"]), int(r["null"])
        low, high = wilson_interval(major, major + minor, level)
        w_low, w_high = wilson_interval(major, major + minor + null, level)
        out.append({**{c: r[c] for c in cells}, "majority": side, "majority_votes": major, "minority_votes": minor,
                    "null": null, "majority_share": major / (major + minor), "ci_low": low, "ci_high": high,
                    "sign_test_p": sign_test_p(major, minor), "worst_majority_share": major / (major + minor + null),
                    "worst_ci_low": w_low, "worst_ci_high": w_high, "worst_sign_test_p": sign_test_p(major, minor + null)})
    return pd.DataFrame(out, columns=columns)


def worst_case_sentences(worst: pd.DataFrame, cells: list[str], level: float = 0.95) -> list[str]:
    """One sentence per row of :func:`worst_case_votes`, built from its numbers."""
    from .display import count_text, p_text, sentence_number

    pct = f"{100 * level:g}%"
    out = []
    for _, r in worst.iterrows():
        cell = " · ".join(str(r[c]).replace("_", " ") for c in cells)
        counted = r["majority_votes"] + r["minority_votes"]
        out.append(
            f"{cell}: as counted, {r['majority_votes']} of {counted} studies with a direction vote {r['majority']} "
            f"(share {sentence_number(r['majority_share'])}, {pct} CI {sentence_number(r['ci_low'])} to "
            f"{sentence_number(r['ci_high'])}; sign test p {p_text(r['sign_test_p'])}). "
            f"{count_text(r['null'], 'study', 'studies')} printed only that the result was not significant; if "
            f"{'it' if r['null'] == 1 else 'all of them'} had gone the other way, {r['majority_votes']} of {counted + r['null']} would vote "
            f"{r['majority']} (share {sentence_number(r['worst_majority_share'])}, {pct} CI {sentence_number(r['worst_ci_low'])} "
            f"to {sentence_number(r['worst_ci_high'])}; sign test p {p_text(r['worst_sign_test_p'])}).")
    return out
