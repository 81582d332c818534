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

from dataclasses import dataclass

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
    rules = [gauss_rule(t) for t in lanczos_tridiagonals(w, probes=probes, steps=steps, seed=seed)]
    x = np.concatenate([nodes for nodes, _ in rules])
    order = np.argsort(x)
    weights = np.concatenate([weights for _, weights in rules]) / len(rules)
    return DiscreteDensity(nodes=np.maximum(x[order], 0.0), weights=weights[order])


@dataclass(frozen=True)
class Tridiagonal:
    """The Lanczos tridiagonal T_m of one probe: diagonal ``alpha`` (m), off-diagonal ``beta`` (m - 1) and the
    norm ``residual`` = beta_m of the next Lanczos vector (0 when the Krylov space became invariant)."""

    alpha: np.ndarray
    beta: np.ndarray
    residual: float


def lanczos_tridiagonals(w: np.ndarray, *, probes: int = 16, steps: int = 64, seed: int = 0) -> list[Tridiagonal]:
    """Block Lanczos on X = W^T W / N (W is N x M, N >= M) from ``probes`` Rademacher vectors (fixed ``seed``),
    ``steps`` steps each (at most M) with full re-orthogonalisation: one :class:`Tridiagonal` per probe."""
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
    out = []
    for p in range(probes):
        size = int(length[p])
        residual = 0.0 if size < steps else float(beta[size - 1, p])
        out.append(Tridiagonal(alpha=alpha[:size, p].copy(), beta=beta[: size - 1, p].copy(), residual=residual))
    return out


def gauss_rule(t: Tridiagonal) -> tuple[np.ndarray, np.ndarray]:
    """Nodes theta_j (ascending Ritz values) and weights (S_1j)^2 of the Gauss rule of T_m (Golub & Meurant,
    "Matrices, Moments and Quadrature", 2010, ch. 6): sum_j (S_1j)^2 f(theta_j) ~ v^T f(X) v."""
    from scipy.linalg import eigh_tridiagonal  # SciPy costs a full analysis 0.2 s of imports; only SLQ needs it

    theta, vectors = eigh_tridiagonal(t.alpha, t.beta)
    return theta, vectors[0] ** 2


def smallest_ritz_bound(t: Tridiagonal) -> float:
    """theta_1 - beta_m |S_m1|: an eigenvalue of X lies within beta_m |S_m1| of the smallest Ritz value theta_1
    (the residual of its Ritz pair; Parlett, "The Symmetric Eigenvalue Problem", Thm 11.4.1), so once the
    Lanczos run has found the bottom of the spectrum this is a lower bound of lambda_min."""
    from scipy.linalg import eigh_tridiagonal

    theta, vectors = eigh_tridiagonal(t.alpha, t.beta, select="i", select_range=(0, 0))
    return float(theta[0] - t.residual * abs(vectors[-1, 0]))


def gauss_radau_rule(t: Tridiagonal, a: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the Gauss–Radau rule of T_m with a node fixed at ``a`` <= lambda_min (Golub &
    Meurant 2010, §6.2): T_m extended by one row, beta_m and alpha_(m+1) = a + beta_m^2 [(T_m - a I)^-1]_mm.

    For f with f^(2m+1) > 0 on the spectrum (ln x: f^(2m+1) = (2m)! / x^(2m+1)), the Radau sum is a lower
    bound and the Gauss sum an upper bound of v^T f(X) v (the sign of their remainders).
    """
    from scipy.linalg import eigh_tridiagonal

    theta, vectors = eigh_tridiagonal(t.alpha, t.beta)
    last = float(np.sum(vectors[-1] ** 2 / (theta - a)))
    alpha = np.append(t.alpha, a + t.residual**2 * last)
    beta = np.append(t.beta, t.residual)
    return gauss_rule(Tridiagonal(alpha=alpha, beta=beta, residual=0.0))
