"""Numerical edge cases: each gets a defined status, no exception and no warning spam."""

import warnings

import numpy as np
import pytest
from safetensors.numpy import save_file

from netspectra import analyze
from netspectra.analyze import analyze_matrix
from netspectra.io import iter_weight_matrices

rng = np.random.default_rng(0)

CASES = {
    "all_zero": (np.zeros((64, 32)), "error", "all-zero"),
    "rank_one": (np.outer(rng.standard_normal(64), rng.standard_normal(32)), "fit-failed", "rank-collapse"),
    "constant": (np.full((64, 32), 0.5), "fit-failed", "rank-collapse"),
    "nan": (np.where(rng.random((64, 32)) < 0.01, np.nan, 1.0), "error", "NaN/Inf"),
    "inf": (np.where(rng.random((64, 32)) < 0.01, np.inf, 1.0), "error", "NaN/Inf"),
    "subnormal": (rng.standard_normal((64, 32)) * 1e-310, "error", "underflow"),
    "huge": (rng.standard_normal((64, 32)) * 1e200, "error", "overflow"),
    "tiny_2x2": (rng.standard_normal((2, 2)), "fit-failed", "fit-failed"),
    "row_1x4096": (rng.standard_normal((1, 4096)), "error", "single eigenvalue"),
    "column_4096x1": (rng.standard_normal((4096, 1)), "error", "single eigenvalue"),
    "orthogonal": (np.linalg.qr(rng.standard_normal((64, 64)))[0], "fit-failed", "fit-failed"),
    "duplicated_singular_values": (
        np.linalg.qr(rng.standard_normal((128, 64)))[0] @ np.diag(np.repeat([1.0, 2.0, 3.0, 4.0], 16)),
        "ok",
        "",
    ),
    "gaussian_64x32": (rng.standard_normal((64, 32)), "ok", ""),
}


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("edge") / "edge.safetensors"
    save_file({f"{name}.weight": w for name, (w, _, _) in CASES.items()}, str(path))
    return path


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


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "int8"])
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
