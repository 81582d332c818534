"""CSV written without pandas is the file pandas writes, cell for cell (texts that a terminal or a spreadsheet
would obey are the exception: tests/report/test_report_injection.py)."""

import math

import numpy as np

from netspectra.report.export import write_results


def test_csv_matches_pandas_to_csv(tmp_path):
    pd = __import__("pandas")
    columns = ["name", "n", "x", "flag", "text"]
    rows = [
        {"name": "a,b", "n": 3, "x": 0.1, "flag": True, "text": 'say "hi"'},
        {"name": "semi;colon", "n": np.int64(-7), "x": math.nan, "flag": None, "text": ""},
        {"name": "big", "n": 0, "x": 1e-5, "flag": False, "text": "é"},
        {"name": "inf", "n": 1, "x": -math.inf, "flag": np.bool_(True), "text": "x"},
        {"name": "float32", "n": 2, "x": np.float64(1.0) / 3.0, "flag": None, "text": "y"},
        {"name": "huge", "n": 2, "x": 1e300, "flag": None, "text": "z"},
    ]
    ours = write_results(tmp_path / "ours.csv", columns, lambda: rows, dict)
    pd.DataFrame(rows, columns=columns).to_csv(tmp_path / "pandas.csv", index=False)
    assert ours.read_bytes() == (tmp_path / "pandas.csv").read_bytes()
