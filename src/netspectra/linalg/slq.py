"""Stochastic Lanczos quadrature (SLQ): the spectral density of X = W^T W / N without decomposing X.

Convention: W is N x M with N >= M; the density is that of the eigenvalues of X = W^T W / N.

Ubaru, Chen & Saad, "Fast estimation of tr(f(A)) via stochastic Lanczos quadrature", SIMAX 38(4), 2017.
For a unit probe v, m Lanczos steps from v give a tridiagonal T_m = S diag(theta) S^T; the Gauss rule
sum_j (S_1j)^2 delta(x - theta_j) matches the spectral measure sum_i (v . u_i)^2 delta(x - lambda_i) on all
polynomials of degree < 2m.  With Rademacher probes, E[(v . u_i)^2] = 1/M, so averaging the rules of n_v
probes estimates the ESD (1/M) sum_i delta(x - lambda_i); its Wasserstein-1 error is O(1/m) + O(1/sqrt(n_v))
(Chen, Trogdon & Ubaru, ICML 2021).  The probes run as one block (matrix-matrix products, 4 N M n_v flops
per step) with full re-orthogonalisation, so Ritz values do not repeat (Paige 1976).

Cost: m (4 N M n_v + 4 m M n_v) flops against N M^2 + 4/3 M^3 for the exact ESD, so SLQ pays only for
M beyond ~10^4 or matrix-free operators (docs/formulas.md#log-det-and-slq); its measured error is in
docs/scale.md.
"""

from __future__ import annotations

import numpy as np

from netspectra.linalg.density import DiscreteDensity

#: A Lanczos step whose residual norm is below this times the largest |alpha| found an invariant subspace.
_BREAKDOWN = 1e-10


def slq_density(w: np.ndarray, *, probes: int = 16, steps: int = 64, seed: int = 0) -> DiscreteDensity:
    """SLQ estimate of the ESD of W^T W / N (W is N x M, N >= M) as a discrete measure.

    Parameters
    ----------
    w : ndarray (N, M), float64
    probes : int
        Number n_v of Rademacher probe vectors.
    steps : int
        Lanczos steps m per probe (at most M).
    seed : int
        Seed of the probes.

    Returns
    -------
    DiscreteDensity
        Up to n_v m nodes (Ritz values) with weights (S_1j)^2 / n_v summing to 1.
    """
    n, m = w.shape
    steps = min(steps, m)
    rng = np.random.default_rng(seed)
    q = rng.choice((-1.0, 1.0), size=(probes, m)) / np.sqrt(m)  # one probe per row
    basis = np.zeros((probes, steps, m))
    alpha = np.zeros((steps, probes))
    beta = np.zeros((steps, probes))
    length = np.full(probes, steps)
    q_prev = np.zeros_like(q)
    for j in range(steps):
        basis[:, j] = q
        r = ((q @ w.T) @ w) / n  # rows: X q_p (X is symmetric)
        alpha[j] = np.einsum("pm,pm->p", q, r)
        r -= alpha[j][:, None] * q + (beta[j - 1][:, None] * q_prev if j else 0.0)
        done = basis[:, : j + 1]
        for _ in range(2):  # full re-orthogonalisation; twice is enough (Parlett, "The Symmetric Eigenvalue Problem")
            r -= np.matmul(np.matmul(done, r[:, :, None]).transpose(0, 2, 1), done)[:, 0]
        beta[j] = np.linalg.norm(r, axis=1)
        stopped = beta[j] <= _BREAKDOWN * np.max(np.abs(alpha[: j + 1]), axis=0)
        length = np.where(stopped & (length == steps), j + 1, length)
        q_prev, q = q, np.where(stopped[:, None], 0.0, r / np.where(stopped, 1.0, beta[j])[:, None])
    from scipy.linalg import eigh_tridiagonal  # SciPy costs a full analysis 0.2 s of imports; only SLQ needs it

    nodes, weights = [], []
    for p in range(probes):
        size = int(length[p])
        theta, vecs = eigh_tridiagonal(alpha[:size, p], beta[: size - 1, p])
        nodes.append(theta)
        weights.append(vecs[0] ** 2 / probes)
    x = np.concatenate(nodes)
    order = np.argsort(x)
    return DiscreteDensity(nodes=np.maximum(x[order], 0.0), weights=np.concatenate(weights)[order])
