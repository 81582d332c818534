"""Free decompression: the spectral density of a large matrix from that of a random principal submatrix.

Ameli, van der Heide, Hodgkinson & Mahoney, "Spectral estimation with free decompression",
arXiv 2506.11994 (2025); docs/formulas.md#free-decompression.  Convention for weight matrices: W is N x M (N >= M) and
X = W^T W / N; a random set of n of the M columns of W gives the principal n x n submatrix
W_S^T W_S / N of X, whose ESD is decompressed by the factor r = M / n.

Theory.  With G(z) = integral rho(x) / (z - x) dx, a principal n x n submatrix of an asymptotically free
N x N matrix has R_N(w) = R_n(r w), r = N / n (Nica & Speicher, "Lectures on the Combinatorics of Free
Probability", 2006, Lecture 14).  Inverting G = R + 1/G gives the characteristic map
    z = z' + (r - 1) / G_n(z'),    G_N(z) = G_n(z') / r,    rho_N(x) = -Im G_N(x + i eta) / pi.
Inside the support z' lies in the lower half-plane, on the second sheet of G_n.

Density model.  rho_n on [a, b] (t = (x - c)/h, c = (a + b)/2, h = (b - a)/2) is expanded in Chebyshev
polynomials of the second kind, rho_n(x) = (2 / (pi h)) sqrt(1 - t^2) sum_k g_k c_k U_k(t), whose
coefficients are plain sample moments, c_k = mean_i U_k(t_i) (orthogonality of U_k under sqrt(1 - t^2)),
damped by the Jackson factors g_k (Weiße, Wellein, Alvermann & Fehske, Rev. Mod. Phys. 78, 2006, eq. 71).
Each term has a closed-form Stieltjes transform, integral sqrt(1 - s^2) U_k(s) / (t - s) ds = pi J^(k+1),
J = t - sqrt(t - 1) sqrt(t + 1) (|J| < 1), so G_n = (2/h) sum_k g_k c_k J^(k+1) is a polynomial in the
Joukowski variable J, t = (J + 1/J) / 2.  The second sheet is simply |J| > 1: solving the characteristic
equation for J by Newton's method, continued down from far above the real axis, needs no Padé or Wynn
continuation.

Limits (measured in docs/scale.md and tests): smooth, atom-free densities with square-root edges (the U_k
basis), moderate ratios r (the continuation multiplies coefficient noise by |J|^(k+1) on the second
sheet), a submatrix large enough for its extreme eigenvalues to locate the edges.  A spike, an atom (a
rank-deficient X) or a hard edge at 0 (M = N) is not represented; a density with a deep dip can fold
the characteristic map, and Newton then fails (:class:`DecompressionError`).

Failure check (:func:`check_decompression`).  Spikes stretch the support so that the low-degree expansion
misses the bulk, and the continuation then returns a density that is wrong without failing (a planted
rank-50 signal: mass 0.96, KS 0.23).  Its moments give it away.  The first moment of X is known exactly,
||W||_F^2 / (N M); the second follows from the submatrix by free compression, whose free cumulants scale
as kappa_k(X_S) = t^(k-1) kappa_k(X), t = 1/r (Nica & Speicher 2006, Lecture 14):
m_2(X) = m_1^2 + r (m_2(X_S) - m_1(X_S)^2) (within 3% of the exact value on Marchenko–Pastur, Student-t,
spiked and power-law matrices of 3200 x 800 at r = 4; not for a variance profile tied to the columns,
which is no free compression).  The decompressed density must integrate to 1 within
:data:`MASS_TOLERANCE` over the grid and match both moments within :data:`MOMENT_TOLERANCE`; otherwise
:class:`DecompressionError` says which.  Measured (3200 x 800, r = 4 unless stated): Marchenko–Pastur r = 2
and 4 and Student-t(5) pass (moments within 7.5%, mass >= 0.978, KS <= 0.025); Marchenko–Pastur r = 8
(mass 0.93, KS 0.15), rank-5 and rank-50 planted signals (second moment 71% and 33% low), a power-law tail
and column-dependent noise (mass 0.74 and 0.77) are refused.
Measured on Marchenko–Pastur (X of a 3200 x 800 Gaussian W, beta = 1/4, degree 8): Wasserstein-1 / KS
0.011 / 0.015 from 400 columns (r = 2), 0.021 / 0.025 from 200 (r = 4), 0.17 / 0.15 from 100 (r = 8),
against 0.21 / 0.25 for the raw ESD of the 200-column submatrix; degree 16 at r = 4 gave 0.19.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from netspectra.errors import NetspectraError, UsageError
from netspectra.linalg.dense import dense_eigenvalues
from netspectra.linalg.density import GridDensity

#: Default number of Chebyshev terms (measured: 8 is accurate to ratio 4 on Marchenko–Pastur; 16 and up are not).
DEFAULT_DEGREE = 8
#: A decompressed density below -this x its maximum means the continuation amplified noise.
_NEGATIVE_TOLERANCE = 0.01
#: The support is widened by this fraction of the sample range on each side.
SUPPORT_MARGIN = 0.01
#: Default imaginary part eta of the evaluation points, as a fraction of the half-width h.
DEFAULT_ETA = 1e-3
#: Newton stops when |dJ| is below this, gives up after _MAX_NEWTON steps.
_NEWTON_TOL = 1e-12
_MAX_NEWTON = 60
#: Heights of the descent from far above the support to eta (geometric).
_LEVELS = 200
#: The decompressed density must integrate to 1 within this over the grid.
MASS_TOLERANCE = 0.05
#: Its first and second moments must match the exact and free-compression ones within this (relative).
MOMENT_TOLERANCE = 0.15
#: Largest ratio r = M / columns: at r = 8 the continuation is wrong without failing its check (W1 / mean
#: 0.085-0.17 on Student-t(5), 0.08-0.10 on 5%-sparse noise; 3200 x 800 and 1600 x 800, measured).
MAX_RATIO = 4.0
#: Largest relative shift (kappa - 3) / sqrt(N M) of the bulk edge by the entries' kurtosis kappa: beyond it
#: the finite-size spectrum has no square-root edge for the expansion (1%-sparse noise: shift 0.18, W1 /
#: mean 0.085 at r = 2; Student-t(3): 0.13-0.24).
MAX_KURTOSIS_SHIFT = 0.05


class DecompressionError(NetspectraError):
    """The characteristic equation of free decompression could not be solved along the requested points."""


def jackson_factors(degree: int) -> np.ndarray:
    """Jackson damping g_k, k = 0..degree-1 (Weiße et al. 2006, eq. 71 with N = degree)."""
    k = np.arange(degree)
    q = np.pi / (degree + 1)
    return ((degree - k + 1) * np.cos(q * k) + np.sin(q * k) / np.tan(q)) / (degree + 1)


def chebyshev_u(t: np.ndarray, degree: int) -> np.ndarray:
    """U_0(t) .. U_{degree-1}(t) as rows: U_0 = 1, U_1 = 2t, U_{k+1} = 2t U_k - U_{k-1}."""
    out = np.empty((degree, *np.shape(t)))
    out[0] = 1.0
    if degree > 1:
        out[1] = 2.0 * t
    for k in range(2, degree):
        out[k] = 2.0 * t * out[k - 1] - out[k - 2]
    return out


def fit_chebyshev(
    samples: ArrayLike, degree: int = DEFAULT_DEGREE, support: tuple[float, float] | None = None
) -> tuple[np.ndarray, tuple[float, float]]:
    """Damped coefficients g_k c_k, c_k = mean U_k(t_i), and the support [a, b] of a sample's density.

    ``support`` defaults to the sample range widened by ``SUPPORT_MARGIN`` of its length on each side.
    """
    x = np.asarray(samples, dtype=np.float64)
    if support is None:
        lo, hi = float(x.min()), float(x.max())
        pad = SUPPORT_MARGIN * (hi - lo)
        support = (lo - pad, hi + pad)
    a, b = support
    t = np.clip((x - (a + b) / 2) / ((b - a) / 2), -1.0, 1.0)
    return chebyshev_u(t, degree).mean(axis=1) * jackson_factors(degree), (a, b)


def chebyshev_density(coefficients: np.ndarray, support: tuple[float, float], x: ArrayLike) -> np.ndarray:
    """rho(x) = (2 / (pi h)) sqrt(1 - t^2) sum_k coefficients_k U_k(t) on the support, 0 outside."""
    a, b = support
    h = (b - a) / 2
    t = (np.asarray(x, dtype=np.float64) - (a + b) / 2) / h
    inside = np.abs(t) < 1
    tc = np.where(inside, t, 0.0)
    series = np.tensordot(coefficients, chebyshev_u(tc, coefficients.size), axes=1)
    return np.where(inside, 2.0 / (np.pi * h) * np.sqrt(1.0 - tc * tc) * series, 0.0)


def free_decompress(
    coefficients: np.ndarray, support: tuple[float, float], ratio: float, x: ArrayLike, eta: float | None = None
) -> np.ndarray:
    """Density rho_N at ``x`` of the matrix ``ratio`` = N/n times larger than the one whose density is the series.

    Solves z'(J) + (ratio - 1) / G_n(J) = z for the Joukowski variable J at z = x + i y, for heights y
    descending geometrically from far above the support (where G_N(z) ~ 1/(z - mu) gives the root) to
    ``eta``, all points at once, by Newton's method; G_N is analytic in the upper half-plane, so the root
    moves continuously and lands on the second sheet inside the support.  Returns -Im G_n(J) / (pi ratio).
    ``eta`` defaults to DEFAULT_ETA times the half-width of the support.

    Raises
    ------
    DecompressionError
        If Newton's method does not converge at some point, or the result is clearly negative somewhere
        (the second-sheet continuation amplified the noise of high-order coefficients).
    """
    a, b = support
    c, h = (a + b) / 2, (b - a) / 2
    eta = DEFAULT_ETA * h if eta is None else eta
    powers = np.arange(1, coefficients.size + 1)
    points = np.asarray(x, dtype=np.float64)
    mean = c + h * coefficients[1] / 2 if coefficients.size > 1 else c  # E[t] = c_1 / 2 (U_1 = 2t)

    def g_n(j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        jp = j[:, None] ** (powers - 1)
        return (2.0 / h) * (jp * j[:, None]) @ coefficients, (2.0 / h) * jp @ (coefficients * powers)

    def solve(j: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Newton for z'(J) + (ratio - 1) / G_n(J) = z from ``j``; returns J and dz/dJ at it."""
        active = np.arange(z.size)
        slope = np.empty_like(j)
        for _ in range(_MAX_NEWTON):
            ja = j[active]
            g, dg = g_n(ja)
            f = c + h * (ja + 1.0 / ja) / 2 + (ratio - 1.0) / g - z[active]
            slope[active] = h * (1.0 - 1.0 / (ja * ja)) / 2 - (ratio - 1.0) * dg / (g * g)
            step = f / slope[active]
            j[active] = ja - step
            active = active[np.abs(step) >= _NEWTON_TOL * np.maximum(1.0, np.abs(ja))]
            if active.size == 0:
                return j, slope
        raise DecompressionError(f"free decompression: Newton did not converge at x = {z[active[0]].real:.6g}")

    top = 1e3 * ratio * (h + float(np.max(np.abs(points - c))))
    t = (mean + (points + 1j * top - mean) / ratio - c) / h  # z' - mu ~ (z - mu) / ratio far away
    j, slope = solve(t - np.sqrt(t - 1) * np.sqrt(t + 1), points + 1j * top)
    heights = np.geomspace(top, eta, _LEVELS)
    for previous, y in zip(heights[:-1], heights[1:]):
        # Euler predictor dJ = dz / (dz/dJ), then Newton: keeps each point on its own branch near the edges
        j, slope = solve(j + 1j * (y - previous) / slope, points + 1j * y)
    density = -g_n(j)[0].imag / (np.pi * ratio)
    if density.min() < -_NEGATIVE_TOLERANCE * density.max():
        raise DecompressionError(
            f"free decompression unstable (density {density.min():.3g} < 0): use a lower degree or a larger submatrix"
        )
    return density


def decompressed_esd(
    w: np.ndarray, columns: int, x: ArrayLike, *, degree: int = DEFAULT_DEGREE, seed: int = 0, eta: float | None = None
) -> GridDensity:
    """Estimate the ESD of X = W^T W / N (W is N x M, N >= M) from ``columns`` random columns of W.

    Heavy-tailed entries are refused first (:func:`check_entries`), and ratios above :data:`MAX_RATIO`.
    The eigenvalues of the principal submatrix W_S^T W_S / N are expanded (:func:`fit_chebyshev`) and
    decompressed by r = M / columns (:func:`free_decompress`) at the ascending points ``x``, which must
    cover the support; the result is checked by :func:`check_decompression`.  Cost: N columns^2 +
    columns^3 + N M instead of N M^2 + M^3.

    Raises
    ------
    UsageError
        ``columns`` outside [M / MAX_RATIO, M).
    DecompressionError
        Heavy-tailed entries, or the continuation fails or its result fails the moment check (module docstring).
    """
    n, m = w.shape
    if not 2 <= columns < m:
        raise UsageError(f"free decompression needs 2 <= columns < M = {m}, got {columns}")
    if m / columns > MAX_RATIO:
        raise UsageError(
            f"free decompression of {columns} of M = {m} columns is a ratio of {m / columns:.3g}: at most "
            f"{MAX_RATIO:g} is reliable (measured), so give at least {int(np.ceil(m / MAX_RATIO))} columns"
        )
    check_entries(w)
    picked = np.sort(np.random.default_rng(seed).choice(m, size=columns, replace=False))
    sub = dense_eigenvalues(w[:, picked])
    coefficients, support = fit_chebyshev(sub, degree)
    grid = np.asarray(x, dtype=np.float64)
    estimate = GridDensity(x=grid, density=free_decompress(coefficients, support, m / columns, grid, eta))
    flat = np.ravel(w)
    exact_mean = float(np.dot(flat, flat)) / (n * m)
    check_decompression(estimate, sub, m / columns, exact_mean)
    return estimate


def check_entries(w: np.ndarray) -> None:
    """Refuse heavy-tailed entries, whose spectrum the atom-free square-root-edge expansion cannot represent.

    With c_r = sum (w - mean)^r over the L = N M entries, sigma^2 = c_2 / L and kurtosis kappa = L c_4 / c_2^2:

    * a single entry a > sigma (N M)^(1/4) is a rank-one perturbation above the BBP threshold and puts an
      outlier outside the bulk by itself (Benaych-Georges & Nadakuditi, J. Multivar. Anal. 111, 2012;
      :mod:`netspectra.rmt.entry_null`), a spike the expansion smears over the support;
    * kurtosis moves the finite-size edge by (kappa - 3) / sqrt(N M) relative (the law measured in
      :mod:`netspectra.rmt.entry_null`): above :data:`MAX_KURTOSIS_SHIFT` there is no sharp edge.

    Student-t(3) entries (3200 x 800) passed the moment check with W1 / mean 0.10-0.12 and are refused here;
    Gaussian, Student-t(5) and 5%-sparse entries without such an entry pass (W1 / mean 0.009-0.06 at r <= 4).

    Raises
    ------
    DecompressionError
        Naming the entry or the kurtosis.
    """
    flat = np.ravel(w).astype(np.float64, copy=False)
    n, m = w.shape
    centred = flat - float(np.mean(flat))
    c2 = float(np.dot(centred, centred))
    if not c2 > 0:
        return
    sigma = np.sqrt(c2 / flat.size)
    largest = float(np.max(np.abs(centred)))
    if largest > sigma * (float(n) * m) ** 0.25:
        raise DecompressionError(
            f"free decompression refused: an entry of {largest / sigma:.3g} standard deviations makes an outlier by "
            f"itself (above (N M)^(1/4) = {(float(n) * m) ** 0.25:.3g}): heavy-tailed entries, use the exact spectrum"
        )
    squares = centred * centred
    kurtosis = flat.size * float(np.dot(squares, squares)) / (c2 * c2)
    shift = (kurtosis - 3.0) / np.sqrt(float(n) * m)
    if shift > MAX_KURTOSIS_SHIFT:
        raise DecompressionError(
            f"free decompression refused: the entries' kurtosis {kurtosis:.3g} moves the bulk edge by {shift:.0%} "
            f"(> {MAX_KURTOSIS_SHIFT:.0%}): heavy-tailed or very sparse entries, use the exact spectrum"
        )


def check_decompression(estimate: GridDensity, submatrix_eigenvalues: np.ndarray, ratio: float, mean: float) -> None:
    """Raise :class:`DecompressionError` unless ``estimate`` has mass 1, the exact first moment ``mean`` and
    the second moment free compression predicts from the submatrix, m_1^2 + r (m_2(X_S) - m_1(X_S)^2)
    (module docstring; tolerances :data:`MASS_TOLERANCE`, :data:`MOMENT_TOLERANCE`)."""
    x, rho = estimate.x, estimate.density
    mass = estimate.mass
    first = float(np.trapezoid(x * rho, x)) / mass
    second = float(np.trapezoid(x * x * rho, x)) / mass
    sub_mean = float(np.mean(submatrix_eigenvalues))
    predicted = mean * mean + ratio * (float(np.mean(submatrix_eigenvalues**2)) - sub_mean * sub_mean)
    problems = []
    if abs(mass - 1.0) > MASS_TOLERANCE:
        problems.append(f"mass {mass:.3f} on the grid")
    if abs(first / mean - 1.0) > MOMENT_TOLERANCE:
        problems.append(f"mean {first / mean - 1.0:+.0%} off the exact one")
    if abs(second / predicted - 1.0) > MOMENT_TOLERANCE:
        problems.append(f"second moment {second / predicted - 1.0:+.0%} off the free-compression one")
    if problems:
        raise DecompressionError(
            "free decompression failed its check (" + ", ".join(problems) + "): spikes, atoms or a column-"
            "dependent variance that the expansion cannot represent, or a ratio too large; use the exact spectrum"
        )
