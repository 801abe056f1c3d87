"""A run with other parameters, as a user makes one: three drop-in reviews (Molloy 2014 in the
correlational schema; Normand 1999 and the BCG trials as plain tables scaffolded by ``new-review``) in a
working tree with its built outputs, through ``build -p reviews=[...] -p tau2_method=DL``. The run goes
to runs/, leaves the working tree alone, reruns the notebooks that read review folders, keeps the
others, and gives metafor's DL estimates for all three. One module: its tests share the one run."""
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import scipy.stats
from conftest import REVIEW_NOTEBOOKS, load_tool, snapshot

import helpers as h

ROOT = Path(__file__).resolve().parents[1]
tool = load_tool()


MOLLOY = "https://wviechtb.github.io/metadat/reference/dat.molloy2014.html"
REFERENCE = json.loads((ROOT / "tests" / "reference" / "metafor_reference.json").read_text())


def make_dropin(raw: Path, name: str = "dropin_demo") -> Path:
    """A classic public data set dropped in as a correlational review: Molloy et al. (2014),
    conscientiousness and medication adherence, 16 studies with r and n (R package metadat).

    Every row converts, there is no screening.csv (an optional sheet), the codebook extends the
    outcome categories, and the pooled estimate has a known metafor value (tests/reference/).
    """
    ref = REFERENCE["molloy"]
    src = ROOT / "data" / "raw" / "bizzotto2023"
    target = raw / name
    target.mkdir(parents=True)
    book = pd.read_csv(src / "codebook.csv", dtype=str, keep_default_na=False)
    book = book[book["sheet"] != "screening"]
    book.loc[(book["sheet"] == "effects") & (book["column"] == "outcome"), "allowed"] += "|adherence"
    book.to_csv(target / "codebook.csv", index=False)
    columns = {sheet: list(book.loc[book["sheet"] == sheet, "column"]) for sheet in ("studies", "effects")}
    ids = [f"Molloy{i + 1:02d}" for i in range(len(ref["ri"]))]
    studies = pd.DataFrame({c: "" for c in columns["studies"]}, index=range(len(ids)))
    studies = studies.assign(study_id=ids, authors="see source", year="2014", title=[f"study {i}" for i in ids],
                             url=MOLLOY, design="cross_sectional", population="adults taking medication")
    effects = pd.DataFrame({c: "" for c in columns["effects"]}, index=range(len(ids)))
    effects = effects.assign(
        study_id=ids, effect_id=[f"{i}_1" for i in ids], help_seeking_type="other",
        help_seeking_as_printed="conscientiousness", comparator="continuous", outcome="adherence",
        outcome_proxy="none", statistic_type="r", statistic_as_printed=[f"r = {r}" for r in ref["ri"]],
        value=[str(r) for r in ref["ri"]], n_effect=[str(n) for n in ref["ni"]], adjusted="no",
        direction=["positive" if r > 0 else "negative" if r < 0 else "null" for r in ref["ri"]],
        significant="unclear", source=MOLLOY, location="dat.molloy2014, columns ri and ni")
    studies.to_csv(target / "studies.csv", index=False)
    effects.to_csv(target / "effects.csv", index=False)
    meta = {"design": "correlational", "transform": "tanh", "display_metric": "r", "xlabel": "r",
            "analyses": [{"name": "all", "label": "Conscientiousness ~ adherence", "filter": {}}],
            "box_score_by": ["outcome"]}
    (target / "review.json").write_text(json.dumps(meta, indent=2))
    return target


PLAIN = {"normand_plain": ("normand", ["m1", "sd1", "n1", "m2", "sd2", "n2"]), "bcg_plain": ("bcg", ["yi", "vi"])}
DROPINS = {"dropin_demo": "molloy", **{name: data for name, (data, _) in PLAIN.items()}}  # review → metafor data set


def make_plain_reviews(raw: Path, tables: Path) -> list[str]:
    """Normand (1999; means, SDs and ns) and the BCG trials (log risk ratios yi with vi) as plain
    tables, scaffolded with ``new-review`` as a user would: no schema learnt, no screening sheet."""
    from compendium.scaffold import new_review

    for name, (data, columns) in PLAIN.items():
        table = pd.DataFrame({c: REFERENCE[data][c] for c in columns})
        table.insert(0, "study_id", [f"{data.capitalize()}{i + 1:02d}" for i in range(len(table))])
        table.to_csv(tables / f"{data}.csv", index=False)
        new_review(name, tables / f"{data}.csv", raw)
    (raw / "bcg_plain" / "screening.csv").unlink()  # an optional sheet a user may lack
    return list(PLAIN)


# 06 reruns in such a run (it reads the analysis rows 03 writes); 500 replications per cell keep it cheap,
# since this run checks the pipeline, not the lab's numbers (those are notebook 06's own committed outputs)
RUN = {"reviews": list(DROPINS), "tau2_method": "DL", "replications": 500}


@pytest.fixture(scope="module")
def dropin_run(request, tmp_path_factory):
    """A working tree as a user has it (built outputs in place) with three drop-in reviews, built with
    ``build -p reviews=[...] -p tau2_method=DL``. Returns (tree, its files before the run, run folder).
    Its folders are removed after this module's tests unless a test has failed by then (under xdist,
    one of this worker's, this module's own in practice: it is queued first); kept to look into, as
    pytest keeps a failed test's folder."""
    tree, plain = tmp_path_factory.mktemp("dropin"), tmp_path_factory.mktemp("plain")
    tool.copy_tracked(ROOT, tree)
    make_dropin(tree / "data" / "raw")
    make_plain_reviews(tree / "data" / "raw", plain)
    before = snapshot(tree)
    assert tool.build_command(False, RUN, root=tree) == 0
    yield tree, before, tree / tool.run_folder(RUN)
    if not request.session.testsfailed:
        for folder in (tree, plain):
            shutil.rmtree(folder, ignore_errors=True)


def test_a_run_with_other_parameters_leaves_the_working_tree_alone(dropin_run):
    tree, before, run = dropin_run
    assert {k: v for k, v in snapshot(tree).items() if not k.startswith("runs/")} == before
    assert "tau2_method = &#x27;DL&#x27;" in (run / "reports" / "index.html").read_text()


def test_the_run_reruns_the_notebooks_it_reaches_and_keeps_the_others(dropin_run):
    tree, _, run = dropin_run
    reran = tool.rerun_notebooks(RUN, tool.notebook_parameters(tree), tool.NOTEBOOKS)
    assert set(REVIEW_NOTEBOOKS) < set(reran) and "06_simulation_lab" in reran, "06 reads the analysis rows 03 writes"
    for name in tool.NOTEBOOKS:
        source = (run / "notebooks" / f"{name}.ipynb").read_text()
        if name in reran:
            assert "dropin_demo" in source, f"{name} was not run with the drop-in reviews"
        else:  # no parameter of the run: its notebook and outputs are the working tree's
            assert source == (tree / "notebooks" / f"{name}.ipynb").read_text(), name
            assert tool.outputs_of(run, name) == tool.outputs_of(tree, name) != []
    assert not list((run / "data" / "processed").glob("bizzotto2023*")), "only the reviews of the run"


def test_dropin_review_runs_through_all_notebooks(dropin_run):
    _, _, out = dropin_run
    processed = out / "data" / "processed" / "dropin_demo"
    assert len(h.read_table(processed / "effect_sizes.csv")) == 16
    left = h.read_table(processed / "not_converted.csv")
    assert left.empty and "reason" in left.columns, "every row converted: a header-only table"
    for table in ("analyses", "vote_counts", "sensitivity", "small_study"):
        assert (out / "reports" / "tables" / f"dropin_demo_{table}.csv").exists()
    assert not (out / "figures" / "dropin_demo_prisma.png").exists(), "no screening.csv, no flow diagram"
    assert (out / "figures" / "dropin_demo_forest_all.png").exists()


@pytest.mark.parametrize("name", list(DROPINS))
def test_each_dropin_gives_the_metafor_estimate(dropin_run, name):
    """Molloy in the correlational schema; Normand and BCG as plain tables scaffolded by ``new-review``."""
    ref = REFERENCE[DROPINS[name]]["fits"]["DL_z"]
    fits = h.read_table(dropin_run[2] / "data" / "processed" / name / "fits.csv").iloc[0]
    assert fits["k"] == ref["k"] and fits["method"] == "DL"
    for field, ours in (("estimate", "estimate"), ("ci_low", "ci_low_z"), ("ci_high", "ci_high_z"), ("tau2", "tau2")):
        assert fits[ours] == pytest.approx(ref[field], rel=1e-6, abs=1e-10), field
    # the leading test (modified Hartung–Knapp) is never narrower than z; the prediction interval is on t(k − 2)
    assert fits["test"] == "adhoc" and fits["ci_low"] <= fits["ci_low_z"] and fits["ci_high"] >= fits["ci_high_z"]
    half = scipy.stats.t.ppf(0.975, fits["k"] - 2) * (fits["se"] ** 2 + fits["tau2"]) ** 0.5
    assert fits["pi_dist"] == f"t({int(fits['k']) - 2})" and fits["pi_high"] == pytest.approx(fits["estimate"] + half)
    assert (dropin_run[2] / "figures" / f"{name}_forest_all.png").exists()


def test_a_parameter_no_notebook_has_stops_the_command(tmp_path, capsys):
    root = tool.copy_tracked(ROOT, tmp_path / "repo")
    before = snapshot(root)
    assert tool.build_command(False, {"tau2": "DL"}, root=root) == 2
    assert "no notebook has a parameter 'tau2'" in capsys.readouterr().err
    assert snapshot(root) == before


