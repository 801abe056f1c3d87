"""What the build is: the notebooks, the order they run in (``GRAPH``), what each writes (``WRITES``),
and each notebook's parameters as its ``parameters`` cell declares them.

Other branches add entries to ``WRITES`` here: a test checks that every committed output belongs to
exactly one notebook (or to the report).
"""
from __future__ import annotations

from pathlib import Path

# Each notebook and the notebooks it must wait for: 01 checks the sheets all others read (a sheet that
# breaks its codebook stops the build there), 03 and 05 read what 02 writes (05 nothing else), 04 reads
# the fits 03 writes, 06 the analysis rows 03 writes (to find the cells of its lab nearest to our analyses).
# The report comes after all of them.
GRAPH: dict[str, tuple[str, ...]] = {
    "00_worked_example": (),
    "01_data_extraction": (),
    "02_effect_size_harmonisation": ("01_data_extraction",),
    "03_pooled_models": ("02_effect_size_harmonisation",),
    "04_forest_funnel_plots": ("03_pooled_models",),
    "05_box_score_mediator_synthesis": ("02_effect_size_harmonisation",),
    "06_simulation_lab": ("03_pooled_models",),
}
NOTEBOOKS = list(GRAPH)

# About how many seconds each notebook takes on two cores with the committed data (measured; only their
# order matters). When several notebooks could start, the build starts the one with the most work on
# the path still behind it (critical-path scheduling, :func:`critical_path_order`): the lab, which takes
# longest, would otherwise wait for 04 and 05 and finish last, alone on one core.
TYPICAL_SECONDS: dict[str, float] = {
    "00_worked_example": 1.8,
    "01_data_extraction": 2.3,
    "02_effect_size_harmonisation": 0.8,
    "03_pooled_models": 2.7,
    "04_forest_funnel_plots": 2.3,
    "05_box_score_mediator_synthesis": 3.5,
    "06_simulation_lab": 9.1,
}


def critical_path_order(names: list[str]) -> list[str]:
    """``names`` ordered by the longest path of work from each to the end of the build, longest first.

    A notebook's path is its own :data:`TYPICAL_SECONDS` (1 s if unknown) plus the longest path of
    the notebooks among ``names`` that read it (:data:`GRAPH`); ties keep the order of :data:`NOTEBOOKS`.
    Since a notebook's path is longer than that of any notebook reading it, the order respects GRAPH.

    References
    ----------
    Kwok Y-K, Ahmad I (1999). Static scheduling algorithms for allocating directed task graphs to
    multiprocessors. ACM Comput Surv 31(4):406–471 (the "b-level" priority).
    """
    path: dict[str, float] = {}
    for name in reversed([n for n in NOTEBOOKS if n in names]):
        after = [path[r] for r in path if name in GRAPH[r]]
        path[name] = TYPICAL_SECONDS.get(name, 1.0) + max(after, default=0.0)
    return sorted(path, key=lambda n: (-path[n], NOTEBOOKS.index(n)))


# What each notebook writes, as patterns (``fnmatch``, ``*`` crossing folders) under the repository root
# with the default folders, and what the report writes. A run with other parameters copies the outputs
# of a notebook it does not rerun; the test command compares each notebook's files with the committed
# ones; a test checks that every committed output matches exactly one entry.
WRITES: dict[str, tuple[str, ...]] = {
    "00_worked_example": ("figures/classic_*",),
    "01_data_extraction": ("data/processed/*/prisma_counts.csv", "figures/*_prisma.*",
                           "reports/tables/*_study_characteristics.csv", "figures/*_rob_*",
                           "reports/tables/*_risk_of_bias.csv"),
    "02_effect_size_harmonisation": ("data/processed/*/effect_sizes.csv", "data/processed/*/not_converted.csv",
                                     "reports/tables/*_plausibility.csv"),
    "03_pooled_models": ("data/processed/*/fits.csv", "data/processed/*/analysis_rows.csv",
                         "data/processed/*/subgroup_fits.csv", "reports/tables/*_analyses.csv",
                         "reports/tables/*_choices.csv", "reports/tables/*_subgroups.csv",
                         "reports/tables/*_sensitivity.csv", "reports/tables/*_dependence.csv",
                         "reports/tables/comparison.csv", "reports/tables/*_multiverse.csv", "figures/*_multiverse_*",
                         "reports/tables/*_certainty.csv", "reports/tables/*_summary_of_findings.csv",
                         "reports/tables/*_risk_of_bias_variants.csv",
                         "reports/tables/*_bayes.csv", "figures/*_tau_posterior.*"),  # *_sensitivity.csv holds *_prior_sensitivity.csv
    "04_forest_funnel_plots": ("figures/*_forest_*", "figures/*_funnel_*", "figures/*_baujat_*", "figures/*_gosh_*",
                               "reports/tables/*_small_study.csv", "reports/tables/*_selection_methods.csv",
                               "reports/tables/*_influence.csv"),
    "05_box_score_mediator_synthesis": ("reports/tables/*_vote_counts.csv", "reports/tables/*_study_votes.csv",
                                        "reports/tables/*_roles.csv", "figures/*_effect_direction*"),
    "06_simulation_lab": ("figures/simulation_*", "reports/tables/simulation_*"),
    "report": ("reports/*.html", "figures/comparison_published_vs_ours.*"),
}

OUTPUTS = ("notebooks", "data/processed", "figures", "reports")  # what a build writes; all else is input
RUNS = "runs"  # where a build with other parameters goes unless --out says otherwise


def notebook_parameters(root: Path) -> dict[str, dict]:
    """Each notebook's parameters and their defaults, read from its cell tagged ``parameters``.

    Returns
    -------
    dict
        Notebook name → {parameter: default value} (assignments of literals; comments ignored).
    """
    import ast
    import json

    found = {}
    for name in NOTEBOOKS:
        cells = json.loads((root / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
        source = "".join(next((c["source"] for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])), ""))
        found[name] = {t.id: ast.literal_eval(node.value) for node in ast.parse(source).body
                       if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    return found


def review_notebooks(declared: dict[str, dict]) -> list[str]:
    """The notebooks that read the review folders under data/raw: those with a ``reviews`` parameter."""
    return [name for name in declared if "reviews" in declared[name]]


def rerun_notebooks(parameters: dict, declared: dict[str, dict], chosen: list[str]) -> list[str]:
    """The notebooks of ``chosen`` a run with ``parameters`` must rerun, in build order.

    A notebook reruns when it has one of the run's parameters, when it reads the review folders
    (it has a ``reviews`` parameter: a drop-in folder is read by the run as it is now), or when it
    reads a notebook that reruns. The others would give their committed outputs again.
    """
    rerun: list[str] = []
    for name in chosen:
        if (set(parameters) & set(declared[name]) or name in review_notebooks(declared)
                or any(d in rerun for d in GRAPH[name])):
            rerun.append(name)
    return rerun


def written_by(rel: str) -> list[str]:
    """The steps (notebooks, ``"report"``) whose :data:`WRITES` patterns match the path ``rel``."""
    import fnmatch

    return [step for step, patterns in WRITES.items() if any(fnmatch.fnmatchcase(rel, p) for p in patterns)]


def outputs_of(root: Path, step: str) -> list[str]:
    """The files under ``root`` that ``step`` (a notebook or ``"report"``) writes (:data:`WRITES`)."""
    found = []
    for folder in OUTPUTS[1:]:
        for path in sorted((root / folder).rglob("*")):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and step in written_by(rel):
                found.append(rel)
    return found


def with_inputs(names: list[str]) -> list[str]:
    """``names`` and every notebook they depend on, in the order of :data:`NOTEBOOKS`."""
    unknown = [n for n in names if n not in GRAPH]
    if unknown:
        raise ValueError(f"unknown notebook(s) {unknown}: choose from {NOTEBOOKS}")
    wanted, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo += GRAPH[name]
    return [n for n in NOTEBOOKS if n in wanted]


def declared_defaults(declared: dict[str, dict]) -> dict:
    """Every parameter the notebooks declare (:func:`notebook_parameters`) with its default, the first
    notebook's where several declare it."""
    defaults = {}
    for names in declared.values():
        for name, value in names.items():
            defaults.setdefault(name, value)
    return defaults
