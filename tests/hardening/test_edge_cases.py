"""Numerical edge cases: each gets a defined status, no exception and no warning spam."""

import warnings

import numpy as np
import pytest

from edge_matrices import CASES, write_edge_model
from netspectra import analyze
from netspectra.analyze import analyze_matrix
from netspectra.io import iter_weight_matrices


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return write_edge_model(tmp_path_factory.mktemp("edge") / "edge.safetensors")


@pytest.mark.parametrize("name", sorted(CASES))
def test_edge_case_status(model_path, name):
    _, status, fragment = CASES[name]
    weight = next(iter_weight_matrices(model_path, include=f"^{name}\\.", min_dim=1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning spam from numpy
        report = analyze_matrix(weight)
    assert report.status == status, report.warning
    assert fragment in report.warning


def test_whole_model_with_edge_cases_runs(model_path):
    report = analyze(model_path)
    assert len(report.layers) == len(CASES)
    assert report.summary.num_errors == sum(status == "error" for _, status, _ in CASES.values())


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float8_e4m3fn", "float8_e5m2", "int8"])
def test_low_precision_dtypes(tmp_path, dtype):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file as save_torch

    w = torch.randn(128, 64)
    tensor = (w * 20).round().clamp(-127, 127).to(torch.int8) if dtype == "int8" else w.to(getattr(torch, dtype))
    path = tmp_path / "m.safetensors"
    save_torch({"layer.weight": tensor}, str(path))
    [row] = analyze(path).layers
    assert row.status == "ok"
    assert np.isfinite(row.alpha)
    reference = tensor.to(torch.float64).numpy()
    assert row.frobenius_norm == pytest.approx(np.linalg.norm(reference), rel=1e-12)
