"""The parameters of a run, checked at the door: given as ``-p name=value``, each must be a parameter a
notebook declares, of the type its declared default has (a list where the default is a list), and in
the range the notebooks' formulas need. A parameter that fails stops the command with one line before
any kernel starts. Where a folder parameter may point is :mod:`runner.publish`'s rule (it writes).
"""
from __future__ import annotations

import ast
import math

from .graph import declared_defaults

# The values each parameter may take, where its type alone does not say it: a test on the value and
# what to write in the one-line error. The estimators are metafor's (``rma(method=...)``).
TAU2_METHODS = ("FE", "DL", "HE", "SJ", "ML", "REML", "PM")
RANGES = {
    "level": (lambda v: 0 < v < 1, "a confidence level strictly between 0 and 1, e.g. 0.95"),
    "prepost_r": (lambda v: -1 < v < 1, "a correlation strictly between -1 and 1"),
    "rho": (lambda v: 0 <= v < 1, "a correlation of sampling errors in [0, 1)"),
    "vote_threshold": (lambda v: 0.5 < v <= 1, "a share above 0.5 and at most 1 (a majority of a study's results)"),
    "min_k_small_study": (lambda v: v >= 3, "a number of studies of at least 3 (a regression test needs 3)"),
    "min_studies_sign_test": (lambda v: v >= 1, "a number of studies of at least 1"),
    "replications": (lambda v: v >= 1, "at least 1"),
    "seed": (lambda v: v >= 0, "a non-negative integer"),
    "k_values": (lambda v: len(v) > 0 and all(k >= 2 for k in v), "a non-empty list of study counts, each at least 2"),
    "tau2_values": (lambda v: len(v) > 0 and all(t >= 0 for t in v), "a non-empty list of variances, each at least 0"),
    "tau2_estimator_lab": (lambda v: v >= 0, "a variance of at least 0"),
    "tau2_method": (lambda v: v in TAU2_METHODS, f"one of {', '.join(TAU2_METHODS)}"),
    "ci_method": (lambda v: v in ("z", "knha"), "'z' or 'knha'"),
}


def parse_parameters(pairs: list[str]) -> dict:
    """``["tau2_method=PM", "level=0.9"]`` → {"tau2_method": "PM", "level": 0.9}.

    Each value is read as a Python literal (numbers, lists, booleans, quoted strings) where it is one,
    otherwise kept as the text given; :func:`check_parameters` then holds it to the declared type.
    """
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"-p {pair!r}: write -p name=value, e.g. -p tau2_method=PM")
        key, value = pair.split("=", 1)
        try:
            out[key.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key.strip()] = value
    return out


def _type_name(value) -> str:
    return "a list" if isinstance(value, list) else f"{type(value).__name__} {value!r}"


def _same_type(value, default) -> bool:
    """True when ``value`` has the type of ``default`` (an int where a float is declared is a float)."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and math.isfinite(value)
    if isinstance(default, list):
        return isinstance(value, list) and all(_same_type(v, default[0]) for v in value) if default else \
            isinstance(value, list)
    return type(value) is type(default)


def check_parameters(parameters: dict, declared: dict[str, dict]) -> None:
    """Raise ValueError (one line) for a parameter no notebook has, one of another type than its
    declared default, or one outside the range the notebooks need (:data:`RANGES`).

    Parameters
    ----------
    parameters : dict
        The run's parameters, name → value.
    declared : dict
        Each notebook's declared parameters and defaults (:func:`runner.graph.notebook_parameters`).

    Notes
    -----
    Types follow the declared defaults: a list default takes only a list (``-p reviews=bizzotto2023``
    would otherwise be read letter by letter), its elements of the type of the default's elements (text
    for the empty ``reviews``); a float default takes an int or float, finite; a bool only a bool.
    """
    defaults = declared_defaults(declared)
    unknown = sorted(set(parameters) - set(defaults))
    if unknown:
        raise ValueError(f"no notebook has a parameter {', '.join(map(repr, unknown))}: "
                         f"the notebooks' parameters are {', '.join(sorted(defaults))}")
    for name, value in parameters.items():
        default = defaults[name]
        if name == "reviews":  # declared empty: a list of folder names
            if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise ValueError(f"-p reviews={value!r}: give a list of review folder names, "
                                 f"e.g. -p 'reviews=[\"bizzotto2023\"]' (got {_type_name(value)})")
            continue
        if not _same_type(value, default):
            kind = "a list" if isinstance(default, list) else type(default).__name__
            raise ValueError(f"-p {name}={value!r}: {name} takes {kind} like its default {default!r} "
                             f"(got {_type_name(value)})")
        if name in RANGES and not RANGES[name][0](value):
            raise ValueError(f"-p {name}={value!r}: {name} must be {RANGES[name][1]}")


def run_folder(parameters: dict, runs: str = "runs") -> str:
    """The default folder of a run with other parameters, e.g. ``runs/ci_method-knha_tau2_method-PM``."""
    def text(value) -> str:
        value = "+".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        return "".join(c for c in value if c.isalnum() or c in "._+-")

    return f"{runs}/" + "_".join(f"{k}-{text(v)}" for k, v in sorted(parameters.items()))
