"""torch backend (CPU here; CUDA when present) against the dense float64 backend."""

import numpy as np
import pytest

from netspectra.linalg import SpectrumOptions, compute_spectrum
from netspectra.linalg.torch_backend import torch_device, torch_eigenvalues
from netspectra.rmt.powerlaw import fit_power_law

torch = pytest.importorskip("torch")


def heavy(seed=0, n=500, m=250):
    rng = np.random.default_rng(seed)
    u = np.linalg.qr(rng.standard_normal((n, m)))[0]
    v = np.linalg.qr(rng.standard_normal((m, m)))[0]
    return (u * (1.0 - rng.random(m)) ** (-1.0 / 3.0)) @ v.T


def test_float64_on_device_agrees_with_dense():
    w = heavy()
    dense = compute_spectrum(w).eigenvalues
    on_device = compute_spectrum(w, SpectrumOptions(backend="torch")).eigenvalues
    np.testing.assert_allclose(on_device, dense, rtol=1e-10, atol=1e-12 * dense[-1])
    assert fit_power_law(on_device).alpha == pytest.approx(fit_power_law(dense).alpha, rel=1e-9)


def test_float32_gram_keeps_the_tail():
    w = heavy(1)
    dense = compute_spectrum(w).eigenvalues
    single = np.sort(torch_eigenvalues(w, gram_dtype="float32"))
    top = slice(-50, None)
    np.testing.assert_allclose(single[top], dense[top], rtol=1e-5)
    assert fit_power_law(single).alpha == pytest.approx(fit_power_law(dense).alpha, abs=1e-3)


def test_never_in_float16():
    """float16 weights are computed at the Gram precision asked (float64 here), and a float16 Gram is refused."""
    w16 = heavy(2, 300, 120).astype(np.float16)
    exact = np.linalg.eigvalsh(w16.astype(np.float64).T @ w16.astype(np.float64) / w16.shape[0])
    np.testing.assert_allclose(torch_eigenvalues(w16), exact, rtol=1e-10, atol=1e-12 * exact[-1])
    with pytest.raises(ValueError, match="never float16"):
        torch_eigenvalues(w16, gram_dtype="float16")


def test_device_is_cuda_only_when_available():
    assert torch_device() == ("cuda" if torch.cuda.is_available() else "cpu")
    assert torch_device("cpu") == "cpu"
