"""scipy.stats and scipy.special for the engine, imported on first use.

``from ._lazy import stats`` gives an object whose attributes are those of ``scipy.stats`` (``stats.t``,
``stats.norm``, ...), imported the first time one is asked for. Importing the engine (and the
notebooks' ``helpers``) then costs about 0.45 s less in a process that fits nothing: notebook 01,
which only reads and draws the sheets, the build's sheet check, a command stopped at the door. A
process that fits pays the same import once, at its first fit.
"""
from __future__ import annotations


class _OnFirstUse:
    """Stands for a module; its attributes are the module's, imported by ``load`` when first asked for."""

    def __init__(self, load):
        self._load = load

    def __getattr__(self, name: str):
        return getattr(self._load(), name)

    def __dir__(self):
        return dir(self._load())


def _stats():
    from scipy import stats

    return stats


def _special():
    from scipy import special

    return special


stats = _OnFirstUse(_stats)
special = _OnFirstUse(_special)
