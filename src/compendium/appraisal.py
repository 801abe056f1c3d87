"""Risk of bias per study: the sheet's rules, RoB 2's domain and overall algorithms, what the judgements rest on,
and sensitivity variants by risk of bias (RoB 2 for randomised trials, the JBI checklist for analytical
cross-sectional studies; notebooks 01 and 03). Figures: ``rob_figures.py``; GRADE: ``certainty.py``.

The sheet ``data/raw/<review>/risk_of_bias.csv`` is optional: one row per study and domain, each
with the quote or fact it rests on. A study that is not in it is *not rated* (never low or high).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .analyses import Analysis
from .sensitivity import _variant_row
from .small_k import RULES, SmallKRules

ROB2_DOMAINS = {"D1": "Randomisation process", "D2": "Deviations from intended interventions",
                "D3": "Missing outcome data", "D4": "Measurement of the outcome",
                "D5": "Selection of the reported result"}
JBI_ITEMS = {"Q1": "Inclusion criteria defined", "Q2": "Subjects and setting described",
             "Q3": "Exposure measured validly", "Q4": "Condition by objective criteria",
             "Q5": "Confounders identified", "Q6": "Confounding dealt with", "Q7": "Outcome measured validly",
             "Q8": "Appropriate statistics"}
# RoB 2 judges a domain low, some concerns or high only: "no information" is an answer to a signalling
# question (NI), never a domain judgement (Sterne et al. 2019; RoB 2 guidance 2019).
TOOLS = {"rob2": (ROB2_DOMAINS, ("low", "some concerns", "high")),
         "jbi_cross_sectional": (JBI_ITEMS, ("yes", "no", "unclear", "not applicable", "no information"))}
TOOL_NAMES = {"rob2": "RoB 2 (Sterne et al. 2019)",
              "jbi_cross_sectional": "JBI checklist for analytical cross-sectional studies (Moola et al. 2020)"}
OVERALL_WORDS = ("low", "some concerns", "high")
# Every answer on robvis' common scale; JBI's answers read as the risk they point to, "not applicable" drops out.
LEVEL = {"low": "low", "some concerns": "some concerns", "high": "high", "no information": "no information",
         "yes": "low", "no": "high", "unclear": "some concerns", "not applicable": None}
# robvis (McGuinness & Higgins 2021): colours and symbols of its ROB2 template.
ROBVIS = {"low": ("#02C100", "+"), "some concerns": ("#E2DF07", "−"), "high": ("#BF0000", "×"),
          "no information": ("#4EA1F7", "?"), None: ("#FFFFFF", "")}
ROB_COLUMNS = ["study_id", "tool", "outcome", "domain", "judgement", "signalling", "support", "source", "location",
               "notes"]


def _error(message: str) -> Exception:
    from .sheets import SheetError  # the sheets module calls this one: imported here, not at the top
    return SheetError(message)


# -- RoB 2: each domain's judgement from its signalling answers ----------------------------------

ANSWERS = ("Y", "PY", "PN", "N", "NI", "NA")
ROB2_QUESTIONS = {"D1": ("1.1", "1.2", "1.3"), "D2": ("2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7"),
                  "D3": ("3.1", "3.2", "3.3", "3.4"), "D4": ("4.1", "4.2", "4.3", "4.4", "4.5"),
                  "D5": ("5.1", "5.2", "5.3")}
_YES, _NO = ("Y", "PY"), ("N", "PN")
# The answers RoB 2 offers each question (guidance of 22 August 2019, individually randomised parallel-group
# trials, effect of assignment): NA only where a question is conditional on an earlier answer; 3.2 ("is there
# evidence that the result was not biased by missing outcome data?") has no NI: a report that shows no such
# evidence answers N.
_OPEN, _CONDITIONAL = ("Y", "PY", "PN", "N", "NI"), ("NA", "Y", "PY", "PN", "N", "NI")
ALLOWED = {**{q: _OPEN for qs in ROB2_QUESTIONS.values() for q in qs},
           **{q: _CONDITIONAL for q in ("2.3", "2.4", "2.5", "2.7", "3.3", "3.4", "4.3", "4.4", "4.5")},
           "3.2": ("NA", "Y", "PY", "PN", "N")}
# Overall judgements RoB 2's guidance lets a reviewer choose beside the strict rule (reported, never silent).
SEVERAL_CONCERNS = 2  # "some concerns for multiple domains" read as 2 or more domains at some concerns


def parse_signalling(text: str, domain: str) -> dict[str, str]:
    """The signalling answers of one RoB 2 domain from the sheet's ``signalling`` cell.

    Format ``"1.1=PY;1.2=NI;1.3=N"``; each question takes only the answers RoB 2 offers it
    (:data:`ALLOWED`: Y, PY, PN, N, NI; NA too where the question is conditional; 3.2 has no NI). A
    question not given is ``NI`` (an unknown is never guessed), so an empty cell is all ``NI``; 3.2,
    which has no NI, is ``NA`` when not given and not reached (3.1 Y/PY) and must be given when
    reached. Raises ``ValueError`` (one line) on a question that is not the domain's, an answer the
    question does not allow, or 3.2 missing where 3.1 is N, PN or NI.

    References
    ----------
    Higgins JPT, Savović J, Page MJ, Sterne JAC (eds). RoB 2 full guidance document, 22 August 2019
    (riskofbias.info): the response options of each signalling question.
    """
    answers = {q: "NI" for q in ROB2_QUESTIONS[domain]}
    given = set()
    for part in filter(None, (p.strip() for p in str(text or "").split(";"))):
        question, _, answer = (s.strip() for s in part.partition("="))
        if question not in answers:
            raise ValueError(f"question {question!r} is not a signalling question of {domain} "
                             f"({'|'.join(ROB2_QUESTIONS[domain])})")
        if answer not in ALLOWED[question]:
            raise ValueError(f"answer {answer!r} to {question} is not one RoB 2 allows for it: {'|'.join(ALLOWED[question])}")
        answers[question] = answer
        given.add(question)
    return _complete(answers, given)


def _complete(answers: dict[str, str], given: set) -> dict[str, str]:
    """3.2 when not given: NA where 3.1 (Y/PY) skips it; where 3.1 leads to it, an error (it has no NI)."""
    if "3.2" in answers and "3.2" not in given:
        if answers["3.1"] not in _YES:
            raise ValueError(f"question 3.2 must be answered ({'|'.join(ALLOWED['3.2'][1:])}) where 3.1 is "
                             f"{answers['3.1']}: RoB 2 gives it no NI")
        answers["3.2"] = "NA"
    return answers


def _d1(a: dict) -> str:
    if a["1.2"] in _NO:
        return "high"
    if a["1.2"] in _YES:
        return "low" if a["1.1"] not in _NO and a["1.3"] not in _YES else "some concerns"
    return "high" if a["1.3"] in _YES else "some concerns"  # 1.2 NI


def _d2(a: dict) -> str:
    if a["2.1"] in _NO and a["2.2"] in _NO:
        part1 = "low"
    elif a["2.3"] in _NO:
        part1 = "low"
    elif a["2.3"] in _YES:
        part1 = ("some concerns" if a["2.4"] in _NO else "some concerns" if a["2.5"] in _YES else "high")
    else:  # 2.3 NI
        part1 = "some concerns"
    part2 = "low" if a["2.6"] in _YES else "some concerns" if a["2.7"] in _NO else "high"
    parts = (part1, part2)
    return "high" if "high" in parts else "low" if parts == ("low", "low") else "some concerns"


def _d3(a: dict) -> str:
    if a["3.1"] in _YES or a["3.2"] in _YES or a["3.3"] in _NO:
        return "low"
    return "some concerns" if a["3.4"] in _NO else "high"


def _d4(a: dict) -> str:
    if a["4.1"] in _YES or a["4.2"] in _YES:
        return "high"
    unsure = a["4.2"] not in _NO  # 4.2 NI: what would be low is some concerns
    if a["4.3"] in _NO or a["4.4"] in _NO:
        return "some concerns" if unsure else "low"
    return "some concerns" if a["4.5"] in _NO else "high"


def _d5(a: dict) -> str:
    if a["5.2"] in _YES or a["5.3"] in _YES:
        return "high"
    if a["5.2"] in _NO and a["5.3"] in _NO:
        return "low" if a["5.1"] in _YES else "some concerns"
    return "some concerns"


_ALGORITHMS = {"D1": _d1, "D2": _d2, "D3": _d3, "D4": _d4, "D5": _d5}


def rob2_domain_judgement(domain: str, answers: dict | str) -> str:
    """One RoB 2 domain's judgement (``low``, ``some concerns``, ``high``) from its signalling answers.

    The algorithms of the RoB 2 guidance (individually randomised parallel-group trials, effect of
    assignment; Y/PY read as yes, N/PN as no, a question not answered as NI):

    * D1 randomisation: 1.2 N/PN → high; 1.2 Y/PY → low if 1.1 is not N/PN and 1.3 not Y/PY, else
      some concerns; 1.2 NI → high if 1.3 Y/PY, else some concerns.
    * D2 deviations (assignment): part 1 low if 2.1 and 2.2 N/PN or 2.3 N/PN; 2.3 NI → some concerns;
      2.3 Y/PY → some concerns if 2.4 N/PN or 2.5 Y/PY, else high. Part 2: 2.6 Y/PY → low; else
      2.7 N/PN → some concerns, 2.7 Y/PY/NI → high. The domain is the worse of the two parts.
    * D3 missing outcome data: low if 3.1 Y/PY, or 3.2 Y/PY, or 3.3 N/PN; else 3.4 N/PN → some
      concerns, 3.4 Y/PY/NI → high (so NI at 3.1, 3.3 and 3.4 with 3.2 N, no evidence shown, is high).
    * D4 measurement: 4.1 or 4.2 Y/PY → high; 4.3 N/PN or 4.4 N/PN → low (some concerns when 4.2 is
      NI); else 4.5 N/PN → some concerns, 4.5 Y/PY/NI → high.
    * D5 selection of the reported result: 5.2 or 5.3 Y/PY → high; both N/PN → low if 5.1 Y/PY,
      else some concerns; otherwise (an NI among 5.2, 5.3) some concerns.

    Parameters
    ----------
    domain : str
        ``"D1"`` … ``"D5"``.
    answers : dict or str
        Question → answer, or the sheet's ``signalling`` cell (:func:`parse_signalling`).

    References
    ----------
    Sterne JAC et al. RoB 2: a revised tool for assessing risk of bias in randomised trials. BMJ
    2019;366:l4898. Higgins JPT, Savović J, Page MJ, Sterne JAC (eds). Revised Cochrane risk-of-bias
    tool for randomized trials (RoB 2), full guidance document, 22 August 2019 (riskofbias.info),
    the algorithm of each domain. Higgins JPT et al. Cochrane Handbook, ch. 8 (2019): "a judgement
    about the risk of bias arising from each domain is proposed by an algorithm".
    """
    text = answers if isinstance(answers, str) else ";".join(f"{q}={a}" for q, a in answers.items())
    return _ALGORITHMS[domain](parse_signalling(text, domain))


def overall_judgement(judgements, several_concerns_high: bool = False) -> str:
    """The overall risk of bias of one result from its domain judgements (RoB 2's overall rule).

    ``high`` if any domain is high; ``low`` only if every domain is low; otherwise ``some concerns``.
    RoB 2 also lets a reviewer judge *high* where "some concerns for multiple domains" substantially
    lower confidence in the result: that option is off by default and, when asked for
    (``several_concerns_high``), applies from :data:`SEVERAL_CONCERNS` domains at some concerns; it is
    reported beside the strict rule (:func:`study_judgements`), never silently. JBI answers are read
    on the same scale (yes → low, no → high, unclear or no information → some concerns; not
    applicable drops out): JBI gives no overall rule, so for it this is a convention
    (:func:`jbi_overall`).

    References
    ----------
    Sterne JAC et al. RoB 2: a revised tool for assessing risk of bias in randomised trials.
    BMJ 2019;366:l4898 (Table 2, overall risk-of-bias judgement).
    """
    levels = [LEVEL[j] for j in judgements if LEVEL.get(j)]
    if not levels:
        return "no information"
    if "high" in levels:
        return "high"
    if all(v == "low" for v in levels):
        return "low"
    if several_concerns_high and concerns_count(judgements) >= SEVERAL_CONCERNS:
        return "high"
    return "some concerns"


def concerns_count(judgements) -> int:
    """How many domains are neither low nor not applicable (some concerns, no information, unclear)."""
    return sum(1 for j in judgements if LEVEL.get(j) in ("some concerns", "no information"))


JBI_CONVENTIONS = {
    "any_no_high": "any 'no' → high; all 'yes' → low; otherwise some concerns (a convention: JBI has no overall rule)",
    "q6_no_as_concerns": ("as any_no_high, but a 'no' at Q6 (confounding not dealt with) counts as some concerns: "
                          "the review pools unadjusted bivariate r, which by design adjusts for nothing"),
}


def jbi_overall(answers: dict, convention: str = "any_no_high") -> str:
    """Overall risk of bias of one study from its JBI cross-sectional checklist answers, by a stated convention.

    The JBI checklist has no overall algorithm (Moola et al. 2020): any overall judgement is the
    reviewers' convention. ``any_no_high`` (the primary analyses): one item answered *no* → high;
    every applicable item *yes* → low; otherwise some concerns. ``q6_no_as_concerns`` (the
    sensitivity convention): as before, except that *no* at Q6 counts as some concerns, because
    the pooled effect is an unadjusted correlation whose lack of adjustment is a property of the
    estimate, not a flaw of the study's conduct (:data:`JBI_CONVENTIONS`).

    Parameters
    ----------
    answers : dict
        Item (``Q1`` … ``Q8``) → answer (yes, no, unclear, not applicable, no information).
    convention : str
        A key of :data:`JBI_CONVENTIONS`.

    References
    ----------
    Moola S et al. Chapter 7: Systematic reviews of etiology and risk. In: Aromataris E, Munn Z (eds).
    JBI Manual for Evidence Synthesis. JBI, 2020 (checklist for analytical cross-sectional studies).
    """
    if convention not in JBI_CONVENTIONS:
        raise ValueError(f"JBI convention {convention!r} is not one of {'|'.join(JBI_CONVENTIONS)}")
    words = {item: ("unclear" if convention == "q6_no_as_concerns" and item == "Q6" and word == "no" else word)
             for item, word in answers.items()}
    return overall_judgement(words.values())


def check_risk_of_bias(frame: pd.DataFrame, path: str) -> None:
    """Rules across the rows of a validated risk-of-bias sheet; one-line :class:`SheetError` on the first break.

    Each row's domain belongs to its tool (D1–D5 for ``rob2``, Q1–Q8 for ``jbi_cross_sectional``, or
    ``overall``) and its judgement is one of the tool's words (``low | some concerns | high`` for a
    RoB 2 domain and an overall row); one tool per study; every domain of the tool once. A RoB 2
    domain row with signalling answers (``signalling``, :func:`parse_signalling`) must carry the
    judgement its domain's algorithm gives (:func:`rob2_domain_judgement`); a row without them (an
    authors' table with domain judgements only) is taken as given; a JBI row has none. An
    ``overall`` row must agree with :func:`overall_judgement` of the domains, except that RoB 2's
    guidance allows ``high`` where two or more domains are not low (the reviewer's judgement).
    """
    def where(i: int, study: str) -> str:
        return f"{path}: study {study!r} (line {i + 2})"

    seen: dict[tuple, int] = {}
    tools: dict[str, str] = {}
    for i, row in enumerate(frame.to_dict("records")):
        study, tool, domain, word = row["study_id"], row["tool"], row["domain"], row["judgement"]
        domains, words = TOOLS[tool]
        if domain != "overall" and domain not in domains:
            raise _error(f"{where(i, study)}: column 'domain' value {domain!r} is not a {tool} domain: "
                         f"allowed {'|'.join(domains)}|overall")
        allowed = OVERALL_WORDS if domain == "overall" else words
        if word not in allowed:
            raise _error(f"{where(i, study)}: column 'judgement' value {word!r} is not a {tool} "
                         f"{'overall ' if domain == 'overall' else ''}judgement: allowed {'|'.join(allowed)}")
        signalling = str(row.get("signalling") or "")
        if signalling and (tool != "rob2" or domain == "overall"):
            raise _error(f"{where(i, study)}: column 'signalling' value {signalling!r}: only a RoB 2 domain row "
                         "(D1-D5) has signalling answers")
        if signalling:
            try:
                derived = rob2_domain_judgement(domain, signalling)
            except ValueError as problem:
                raise _error(f"{where(i, study)}: column 'signalling' value {signalling!r}: {problem}") from None
            if derived != word:
                raise _error(f"{where(i, study)}: column 'judgement' value {word!r} disagrees with the signalling "
                             f"answers {signalling!r}: RoB 2's {domain} algorithm gives {derived!r}")
        if tools.setdefault(study, tool) != tool:
            raise _error(f"{where(i, study)}: column 'tool' value {tool!r} differs from the study's earlier rows "
                         f"({tools[study]!r}): one tool per study")
        if (study, domain) in seen:
            raise _error(f"{where(i, study)}: column 'domain' value {domain!r} occurs twice for this study "
                         f"(line {seen[(study, domain)] + 2})")
        seen[(study, domain)] = i
    for study, tool in tools.items():
        rows = frame[frame["study_id"] == study]
        first = int(rows.index[0])
        missing = [d for d in TOOLS[tool][0] if d not in set(rows["domain"])]
        if missing:
            raise _error(f"{where(first, study)}: column 'domain' value(s) {missing} missing: {tool} rates every "
                         f"domain ({'|'.join(TOOLS[tool][0])}); use 'no information' where the source does not say")
        given = rows.loc[rows["domain"] == "overall", "judgement"]
        if len(given):
            domains = rows.loc[rows["domain"] != "overall", "judgement"]
            derived, word = overall_judgement(domains), given.iloc[0]
            upgrade = word == "high" and derived == "some concerns" and concerns_count(domains) >= 2
            if word != derived and not upgrade:
                line = int(given.index[0])
                raise _error(f"{where(line, study)}: column 'judgement' value {word!r} of the overall row disagrees "
                             f"with the domains: RoB 2's algorithm gives {derived!r}")


def load_risk_of_bias(folder: Path | str, codebook: pd.DataFrame) -> pd.DataFrame:
    """Read and validate ``risk_of_bias.csv`` of a review folder (empty frame when there is none).

    The cells are checked against the codebook (:func:`sheets.validate_sheet`: columns, categories,
    required cells), study ids against ``studies.csv`` (the codebook's ``references``), then the rules
    of :func:`check_risk_of_bias`. Called by :func:`sheets.load_review`.
    """
    from .sheets import validate_sheet
    path = Path(folder) / "risk_of_bias.csv"
    columns = list(codebook.loc[codebook["sheet"] == "risk_of_bias", "column"]) or ROB_COLUMNS
    if not path.exists():
        return pd.DataFrame(columns=columns, dtype=object)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "signalling" in columns and "signalling" not in raw:  # an authors' table with domain judgements only
        raw.insert(min(5, len(raw.columns)), "signalling", "")
    if not (codebook["sheet"] == "risk_of_bias").any():
        raise _error(f"{path}: line 1: the codebook has no rows for sheet 'risk_of_bias'; copy them from "
                     "data/raw/behr2025/codebook.csv")
    frame = validate_sheet(raw, "risk_of_bias", codebook, str(path))
    check_risk_of_bias(frame, str(path))
    return frame


def study_judgements(rob: pd.DataFrame) -> pd.DataFrame:
    """One row per rated study: its tool, each domain's judgement, the ``overall`` and where it came from.

    ``overall_from`` is ``sheet`` when the sheet gives an overall row, else ``algorithm``
    (:func:`overall_judgement`: RoB 2's rule; for JBI the convention ``any_no_high`` of
    :func:`jbi_overall`); ``overall_rule`` names it. ``overall_alternative`` is the same study under
    the reported option beside it, named in ``alternative_rule``: RoB 2's "some concerns in several
    domains → high" (:data:`SEVERAL_CONCERNS` or more), JBI's milder convention ``q6_no_as_concerns``.
    """
    rows = []
    for study, block in rob.groupby("study_id", sort=False):
        domains = block[block["domain"] != "overall"]
        given = block.loc[block["domain"] == "overall", "judgement"]
        tool = block["tool"].iloc[0]
        row = {"study_id": study, "tool": tool}
        answers = dict(zip(domains["domain"], domains["judgement"]))
        row.update(answers)
        row["overall"] = given.iloc[0] if len(given) else overall_judgement(domains["judgement"])
        row["overall_from"] = "sheet" if len(given) else "algorithm"
        if tool == "rob2":
            row["overall_rule"] = "RoB 2: any high → high; all low → low; otherwise some concerns"
            row["overall_alternative"] = (row["overall"] if len(given) else
                                          overall_judgement(domains["judgement"], several_concerns_high=True))
            row["alternative_rule"] = f"RoB 2 option: some concerns in {SEVERAL_CONCERNS} or more domains → high"
        else:
            row["overall_rule"] = "JBI convention " + JBI_CONVENTIONS["any_no_high"]
            row["overall_alternative"] = row["overall"] if len(given) else jbi_overall(answers, "q6_no_as_concerns")
            row["alternative_rule"] = "JBI convention q6_no_as_concerns: a 'no' at Q6 counts as some concerns"
        rows.append(row)
    return pd.DataFrame(rows)


def alternative_sentence(table: pd.DataFrame, review: str) -> str:
    """How many studies' overall judgement changes under the reported alternative rule (:func:`study_judgements`)."""
    if not len(table):
        return f"{review}: no study rated."
    changed = table[table["overall"] != table["overall_alternative"]]
    counts = lambda column: ", ".join(f"{n} {word}" for word, n in table[column].value_counts().sort_index().items())  # noqa: E731
    return (f"{review}: overall {counts('overall')} ({table['overall_rule'].iloc[0]}); under "
            f"{table['alternative_rule'].iloc[0]}: {counts('overall_alternative')}; "
            f"{len(changed)} of {len(table)} studies change"
            + (f" ({', '.join(changed['study_id'])})." if len(changed) else "."))


def overall_of(rob: pd.DataFrame) -> dict[str, str]:
    """study_id → overall risk of bias (rated studies only)."""
    table = study_judgements(rob)
    return dict(zip(table["study_id"], table["overall"])) if len(table) else {}


def support_counts(rob: pd.DataFrame, studies_in_analyses=()) -> dict:
    """How many judgements rest on a quote (support with a quoted passage), how many on no information.

    Counts domain rows (not derived overalls). A judgement rests on no information when it is
    ``no information`` (JBI) or when every signalling answer of its RoB 2 domain is NI (RoB 2 then
    derives a judgement from the missing information, often high), a question without NI (3.2)
    counting as such when it is N or NA: "no evidence shown" is what N says there. ``signalling_answers`` and
    ``signalling_ni``: the RoB 2 answers given and how many are NI. ``not_rated`` lists the studies
    of the pooled analyses that have no row in the sheet.
    """
    domains = rob[rob["domain"] != "overall"]
    signalling = domains["signalling"] if "signalling" in domains else pd.Series("", index=domains.index)
    parsed = [parse_signalling(text, d) if tool == "rob2" and text else {}
              for text, d, tool in zip(signalling, domains["domain"], domains["tool"])]
    all_ni = pd.Series([bool(a) and all(v == "NI" or "NI" not in ALLOWED[q] and v in ("N", "NA") for q, v in a.items())
                        for a in parsed], index=domains.index)
    nothing = (domains["judgement"] == "no information") | all_ni
    quoted = domains["support"].str.contains('"', regex=False) & ~nothing
    rated = set(rob["study_id"])
    given = [part.partition("=")[2].strip() for a, text in zip(parsed, signalling) if a
             for part in str(text).split(";") if part.strip()]
    return {"studies_rated": len(rated), "judgements": len(domains), "quoted": int(quoted.sum()),
            "no_information": int(nothing.sum()), "other_fact": int((~quoted & ~nothing).sum()),
            "signalling_answers": len(given), "signalling_ni": given.count("NI"),
            "not_rated": sorted(set(studies_in_analyses) - rated)}


def support_sentence(counts: dict, review: str, with_not_rated: bool = True) -> str:
    """One sentence from :func:`support_counts`."""
    text = (f"{review}: {counts['studies_rated']} studies rated, {counts['judgements']} domain judgements; "
            f"{counts['quoted']} rest on a quote, {counts['other_fact']} on a stated fact without a quote, "
            f"{counts['no_information']} rest on no information.")
    if counts.get("signalling_answers"):
        text += (f" Of {counts['signalling_answers']} RoB 2 signalling answers given, {counts['signalling_ni']} "
                 "are NI (no information).")
    if with_not_rated:
        text += f" Studies of the pooled analyses not rated: {', '.join(counts['not_rated']) or 'none'}."
    return text


def participants_of(review) -> dict:
    """study_id → participants from ``studies.csv`` (``n``, else ``n_randomized_total``), the summary plot's weights."""
    studies = review.sheets["studies"]
    column = "n" if "n" in studies else "n_randomized_total" if "n_randomized_total" in studies else None
    if column is None:
        return {}
    n = pd.to_numeric(studies[column], errors="coerce")
    return {s: float(v) for s, v in zip(studies["study_id"], n) if pd.notna(v)}


# -- risk of bias in the analyses ----------------------------------------------------------------

def rob_sensitivity_table(analyses: dict[str, Analysis], overall: dict[str, str], transform=None,
                          rules: SmallKRules = RULES) -> pd.DataFrame:
    """Each analysis as pooled, without studies at high risk of bias, and with low-risk studies only.

    "without high risk of bias" drops studies whose overall judgement is high (studies not rated
    stay, marked in ``not_rated``); "low risk only" keeps studies judged low (not-rated studies go).
    ``note`` says when nothing or one study is left. Estimates on the display scale.
    """
    f = transform or (lambda x: x)
    out = []
    for a in analyses.values():
        if not len(a.data):
            continue
        ids = set(a.data["study_id"])
        judged = a.data["study_id"].map(lambda study: overall.get(study, "not rated"))
        variants = [("as pooled", a.data), ("without high risk of bias", a.data[judged != "high"]),
                    ("low risk only", a.data[judged == "low"])]
        for name, rows in variants:
            row = _variant_row(a, name, rows, ids, rules, f)
            row["not_rated"] = ", ".join(sorted(set(rows["study_id"]) - set(overall)))
            row["note"] = ("nothing left" if row["k"] == 0 else "" if row["k"] > 1 else
                           "single study, not pooled" if name == "as pooled" else "one study left, not pooled")
            out.append(row)
    columns = ["analysis", "variant", "k", "n", "test", "estimate", "ci_low", "ci_high", "pval", "ci_low_z", "ci_high_z",
               "pval_z", "tau2", "i2", "studies_removed", "not_rated", "note"]
    return pd.DataFrame(out).reindex(columns=columns)


def study_overall_column(rows: pd.DataFrame, overall: dict[str, str]) -> pd.Series:
    """Each row's study's overall risk of bias, ``not rated`` where the sheet has no row for it."""
    return rows["study_id"].map(lambda study: overall.get(study, "not rated"))


def votes_by_risk_of_bias(votes: pd.DataFrame, cells: list[str], overall: dict[str, str]) -> pd.DataFrame:
    """Per cell of the vote count and overall risk of bias: how many studies vote each way.

    ``votes`` is one vote per study per cell (:func:`box_scores.study_votes`); a study without a row in
    the risk-of-bias sheet counts under ``not rated``. Votes are counted, not weighted (Boon & Thomson
    2021 mark each study's risk of bias in the effect-direction plot for the same reason: a reader can
    see whether the direction holds among the studies at lower risk).
    """
    from meta_analysis.votes import STUDY_DIRECTIONS  # every vote a study can cast, "unclear" among them

    if not len(votes):
        return pd.DataFrame(columns=[*cells, "risk_of_bias", "studies", *STUDY_DIRECTIONS])
    table = votes.assign(risk_of_bias=study_overall_column(votes, overall))
    counts = (table.groupby([*cells, "risk_of_bias"], sort=True)["vote"].value_counts().unstack(fill_value=0)
              .reindex(columns=list(STUDY_DIRECTIONS), fill_value=0))
    counts.insert(0, "studies", counts.sum(axis=1))
    counts.columns.name = None
    return counts.reset_index()
