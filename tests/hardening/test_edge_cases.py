"""Numerical edge cases: each gets a defined status, no exception and no warning spam."""

import warnings

import numpy as np
import pytest

from edge_matrices import CASES, write_edge_model
from netspectra import analyze
from netspectra.io import iter_weight_matrices
from netspectra.pipeline import analyze_matrix


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


@pytest.mark.parametrize(("factor", "status"), [(0.99, "ok"), (1.01, "error")])
def test_convolution_at_the_overflow_bound(tmp_path, factor, status):
    """A 3x3 convolution (k = 9 matrices of 64 x 32) of signs at just under / over the bound
    max|w| sqrt(k N M k/2) = sqrt(max float64): under it, every column is finite (the variance over the
    whole stack, the WeightWatcher-convention columns scaled by k/2) and no warning; over it, refused.
    A bound that ignored k let 0.5 x this bound through, and the stack's variance overflowed."""
    from netspectra.linalg.spectrum import LARGEST_ENTRY

    k, n, m = 9, 64, 32
    entry = factor * LARGEST_ENTRY / np.sqrt(k * n * m * k / 2)
    weight = np.random.default_rng(3).choice([-1.0, 1.0], size=(n, m, 3, 3)) * entry
    path = tmp_path / "conv.npz"
    np.savez(path, **{"conv.weight": weight})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = analyze(path).to_frame()
    assert frame.kind[0] == "conv2d" and frame.num_matrices[0] == k
    if status == "error":
        assert frame.status[0] == "error" and "overflow" in frame.warning[0]
        return
    assert frame.status[0] != "error", frame.warning[0]
    columns = ["lambda_max", "frobenius_norm", "lambda_max_ww", "log_norm_ww", "alpha_weighted", "log_alpha_norm"]
    assert np.isfinite(frame.loc[0, columns].astype(float)).all(), frame.loc[0, columns]
