"""Planted matrices for the float32 windows refined in float64 (tests/linalg/test_linalg_refined.py, tests/diagnose/test_tail_refined.py)."""

import numpy as np

N, M = 2000, 800


def orthogonal_factors(rng, n, m):
    return np.linalg.qr(rng.standard_normal((n, m)))[0], np.linalg.qr(rng.standard_normal((m, m)))[0]


def planted(name: str) -> np.ndarray:
    """Student-t(3) entries; singular values i^-0.7 between random orthogonal factors; Gaussian (flat top: the hard case)."""
    rng = np.random.default_rng(7)
    if name == "student":
        return rng.standard_t(3, size=(N, M))
    if name == "power":
        u, v = orthogonal_factors(rng, N, M)
        return (u * np.arange(1, M + 1) ** -0.7) @ v.T
    return rng.standard_normal((N, M))


def clustered(n=1200, m=400, seed=3) -> np.ndarray:
    """Top 10 eigenvalues apart, then 80 within 1e-9 relative of 1, then a bulk below 0.5: a window of 20 ends in the cluster."""
    rng = np.random.default_rng(seed)
    evals = np.concatenate([rng.uniform(0.0, 0.5, m - 90), 1.0 + 1e-9 * rng.random(80), np.linspace(2.0, 5.0, 10)])
    u, v = orthogonal_factors(rng, n, m)
    return (u * np.sqrt(n * evals)) @ v.T
