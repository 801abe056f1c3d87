"""CSV tables written byte-identically (compendium/files.py)."""
import pandas as pd

import helpers as h


def test_write_table_is_byte_stable(tmp_path):
    frame = pd.DataFrame({"a": [0.1 + 0.2, 1 / 3], "b": ["x", ""]})
    first = h.write_table(frame, tmp_path / "t.csv").read_bytes()
    again = h.write_table(h.read_table(tmp_path / "t.csv"), tmp_path / "u.csv").read_bytes()
    assert first == again
    assert b"\r" not in first
