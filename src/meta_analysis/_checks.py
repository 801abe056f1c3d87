"""Input checks shared by the engine: arrays of finite numbers, equal lengths, lower bounds.

Every check raises a ValueError that names the argument, the position and the value.
"""
from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd


def _as_array(name: str, values, allow_nan: bool = False) -> np.ndarray:
    """Turn ``values`` into a 1-d float array; raise a ValueError that names position and value."""
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not allow_nan:
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{name}[{i}] = {float(arr[i])} is not a finite number")
    return arr


def _same_length(**arrays: np.ndarray) -> int:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"arguments differ in length: {lengths}")
    return next(iter(lengths.values()))


def _broadcast(**values) -> dict[str, np.ndarray]:
    """Broadcast scalars and arrays to one length, checking finiteness element by element."""
    arrays = {name: _as_array(name, v) for name, v in values.items()}
    size = max(len(a) for a in arrays.values())
    out = {}
    for name, a in arrays.items():
        if len(a) not in (1, size):
            raise ValueError(f"arguments differ in length: {name} has {len(a)}, expected {size}")
        out[name] = np.broadcast_to(a, (size,)).astype(float)
    return out


def _check_min(name: str, arr: np.ndarray, minimum: float, strict: bool = False) -> None:
    bad = np.flatnonzero(arr <= minimum) if strict else np.flatnonzero(arr < minimum)
    if bad.size:
        i = int(bad[0])
        op = ">" if strict else ">="
        raise ValueError(f"{name}[{i}] = {arr[i]:g}: must be {op} {minimum:g}")


def _frozen_frame(obj) -> pd.DataFrame:
    """One-row DataFrame of a result object's scalar fields."""
    row = {k: v for k, v in asdict(obj).items() if np.isscalar(v) or v is None}
    return pd.DataFrame([row])
