"""High-temperature Marchenko–Pastur (HTMP) law: density, eigenvalue model and maximum-likelihood fit.

Hodgkinson, Wang & Mahoney, "Models of heavy-tailed mechanistic universality", arXiv 2506.03470
(ICML 2025).  For gamma in (0, 1) and kappa > 0 ("eigenvalue repulsion"), with a = (kappa/2)(1/gamma - 1) - 1,
b = kappa/2 and y = (b/gamma) s, the HTMP density is

    p(s) = (b/gamma) y^a e^(-y) / [Gamma(b + 1) Gamma(a + b + 1) |U(b, -a, -y)|^2],   s > 0,

U the Tricomi confluent hypergeometric function (complex on the negative axis; its modulus is the same
on both sides of the cut).  It has mass 1 and mean 1, p(s) ~ s^a as s -> 0, E[1/s] = kappa/((1-gamma) kappa
- 2 gamma), and tends to MP(gamma, 1) as kappa -> inf; it is the global law of the beta-Laguerre
ensemble at inverse temperature beta = kappa/M (Dumitriu & Edelman 2002; Allez, Bouchaud, Majumdar &
Vivo, J. Phys. A 46, 015001, 2013), as the tests check by simulation.  For gamma >= 1 the formula
carries mass 1/gamma only, so square layers are outside the model.

Eigenvalue model (as in the public research code of the paper): lambda = c/s, so that
p_lambda(l) = p(c/l) c / l^2 has an upper power-law tail with exponent
alpha_HTMP = a + 2 = 1 + kappa (Q - 1)/2, Q = N/M = 1/gamma.  Its kappa -> inf limit is the law of c/s with
s ~ MP, the inverse MP law, not MP itself; whether MP describes a layer better is therefore decided by
comparing likelihoods (see :func:`fit_htmp`).

Evaluation.  mpmath's hyperu costs 1 ms to 2 s per point and fails to converge for large parameters,
so the density is tabulated by solving an ODE instead.  w(y) = U(b, -a, -y) solves Kummer's equation
y w'' + (y - a) w' + b w = 0; its log-derivative rho = d log w / d log y obeys the Riccati equation

    d rho / dx = -rho^2 + (a + 1 - y) rho - b y,   x = log y,

and, by Abel's identity for the Wronskian of Re w and Im w, the density is p_y(y) = -Im rho / (pi b y),
i.e. p(s) = -Im rho / (pi b s), with CDF -arg w / (pi b).  The equation is integrated (LSODA) from the
bulk centre y0 = a + 1 + 2b, where rho(y0) comes from two mpmath.hyperu calls for small parameters and
from a third-order WKB expansion in 1/sqrt(D), D = 4 b y0 - (a + 1 - y0)^2, for large ones (relative
error <= 5e-4 there, checked against mpmath); both directions of integration are stable.  Tables are
cached per (gamma, kappa) for the points of the fit's kappa grid, which layers of one shape share; the
fit interpolates between grid points instead of tabulating a continuous kappa.

Eigenvalue convention: eigenvalues of W^T W / N, W is N x M with N >= M, gamma = beta = M/N.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from netspectra.cache import load_arrays, store_arrays
from netspectra.rmt.mp_bulk import mp_log_likelihood
from netspectra.rmt.powerlaw import fit_power_law

#: Largest kappa the fit explores; HTMP at kappa = 200 is within ~1% of its kappa -> inf limit.
KAPPA_MAX = 200.0
#: Smallest alpha_HTMP the fit explores (kappa where the density's s^a singularity is a = -0.8).
ALPHA_MIN = 1.2
#: The ODE stops where log p has fallen this far below its value at the bulk centre.
_LOG_DROP = 40.0
#: Lowest s tabulated; below it p(s) follows its s^a asymptote.
_S_FLOOR = 1e-10
#: Kappa grid of the fit: 2^(j/3), 26% apart (cache-friendly across layers of one shape).
_GRID_STEP = 1.0 / 3.0


def htmp_alpha(kappa: float, gamma: float) -> float:
    """Tail exponent of the eigenvalue model lambda = c/s: alpha = 1 + (kappa/2)(1/gamma - 1)."""
    return 1.0 + 0.5 * kappa * (1.0 / gamma - 1.0)


def kappa_from_alpha(alpha: float, gamma: float) -> float:
    """Inverse of :func:`htmp_alpha`: kappa = 2 gamma (alpha - 1) / (1 - gamma)."""
    return 2.0 * gamma * (alpha - 1.0) / (1.0 - gamma)


@dataclass(frozen=True)
class _Hermite:
    """Piecewise cubic Hermite interpolant through (x_i, y_i) with slopes y'_i: on [x_i, x_i+1],
    y = ((c0 t + c1) t + c2) t + c3 with t = x - x_i, c3 = y_i, c2 = y'_i and c1, c0 from the right end."""

    knots: NDArray[np.float64]
    coefficients: NDArray[np.float64]  # (4, len(knots) - 1), highest power first

    @classmethod
    def through(cls, x: np.ndarray, y: np.ndarray, slope: np.ndarray) -> _Hermite:
        h = np.diff(x)
        secant = np.diff(y) / h
        c1 = (3.0 * secant - 2.0 * slope[:-1] - slope[1:]) / h
        c0 = (slope[:-1] + slope[1:] - 2.0 * secant) / (h * h)
        return cls(x, np.stack([c0, c1, slope[:-1], y[:-1]]))

    def evaluate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Value, first and second derivative at ``x`` (within the knots)."""
        piece = np.clip(np.searchsorted(self.knots, x, side="right") - 1, 0, self.knots.size - 2)
        t = x - self.knots[piece]
        c0, c1, c2, c3 = self.coefficients[:, piece]
        return ((c0 * t + c1) * t + c2) * t + c3, (3.0 * c0 * t + 2.0 * c1) * t + c2, 6.0 * c0 * t + 2.0 * c1


#: The arrays of a tabulated density, as kept in the disk cache.
_TABLE = ("log_s", "log_pdf", "slope", "cdf", "mass")


@dataclass(frozen=True, eq=False)
class HTMPDensity:
    """Tabulated HTMP density of s for one (gamma, kappa): log-density and CDF on a log-s grid.

    Attributes
    ----------
    gamma, kappa : float
        Parameters.
    log_s : ndarray
        Grid of log s (the ODE's own steps).
    log_pdf, slope, cdf : ndarray
        log p(s), d log p / d log s and P(S <= s) on the grid.
    mass : float
        Total mass found by the integration (1 up to the ODE tolerance; a self-check).
    """

    gamma: float
    kappa: float
    log_s: NDArray[np.float64]
    log_pdf: NDArray[np.float64]
    slope: NDArray[np.float64]
    cdf: NDArray[np.float64]
    mass: float

    @cached_property
    def _log_pdf_spline(self) -> _Hermite:
        return _Hermite.through(self.log_s, self.log_pdf, self.slope)

    @cached_property
    def _cdf_spline(self) -> _Hermite:
        return _Hermite.through(self.log_s, self.cdf, np.exp(self.log_pdf + self.log_s) / self.mass)

    @property
    def _slopes(self) -> tuple[float, float]:
        return float(self.slope[0]), float(self.slope[-1])

    @property
    def a(self) -> float:
        """a = (kappa/2)(1/gamma - 1) - 1, the exponent of p(s) ~ s^a at 0."""
        return 0.5 * self.kappa * (1.0 / self.gamma - 1.0) - 1.0

    def logpdf(self, s: ArrayLike) -> NDArray[np.float64]:
        """log p(s): cubic Hermite interpolation (exact slopes) inside the grid, power-law outside."""
        return self.logpdf_log(np.log(np.asarray(s, dtype=np.float64)))

    def logpdf_log(self, log_s: ArrayLike) -> NDArray[np.float64]:
        """log p at s = exp(``log_s``) (:meth:`logpdf` without the logarithm of its argument)."""
        ls = np.asarray(log_s, dtype=np.float64)
        lo, hi = self.log_s[0], self.log_s[-1]
        inside = self._log_pdf_spline.evaluate(np.clip(ls, lo, hi))[0]
        below = self.log_pdf[0] + self._slopes[0] * (ls - lo)
        above = self.log_pdf[-1] + self._slopes[1] * (ls - hi)
        return np.where(ls < lo, below, np.where(ls > hi, above, inside))

    def logpdf_log_derivatives(self, log_s: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """log p and its first two derivatives in log s, at s = exp(``log_s``), in one pass.

        The cubic Hermite pieces are evaluated by Horner's rule after one interval search; outside the
        grid log p is linear in log s (:meth:`logpdf_log`), with second derivative 0.
        """
        ls = np.asarray(log_s, dtype=np.float64)
        lo, hi = self.log_s[0], self.log_s[-1]
        value, first, second = self._log_pdf_spline.evaluate(np.clip(ls, lo, hi))
        below, above = ls < lo, ls > hi
        value = np.where(below, self.log_pdf[0] + self._slopes[0] * (ls - lo), value)
        value = np.where(above, self.log_pdf[-1] + self._slopes[1] * (ls - hi), value)
        first = np.where(below, self._slopes[0], np.where(above, self._slopes[1], first))
        second = np.where(below | above, 0.0, second)
        return value, first, second

    def pdf(self, s: ArrayLike) -> NDArray[np.float64]:
        """p(s)."""
        return np.exp(self.logpdf(s))

    def cdf_at(self, s: ArrayLike) -> NDArray[np.float64]:
        """P(S <= s), with the analytic s^(a+1) tail below the grid."""
        ls = np.log(np.asarray(s, dtype=np.float64))
        lo, hi = self.log_s[0], self.log_s[-1]
        inside = self._cdf_spline.evaluate(np.clip(ls, lo, hi))[0]
        below = self.cdf[0] * np.exp((self._slopes[0] + 1.0) * (np.minimum(ls, lo) - lo))
        return np.clip(np.where(ls < lo, below, np.where(ls > hi, 1.0, inside)), 0.0, 1.0)

    def ppf(self, q: ArrayLike) -> NDArray[np.float64]:
        """Quantile function, by inverting the CDF on a fine log-s grid."""
        grid = np.linspace(self.log_s[0], self.log_s[-1], 8001)
        cdf = np.maximum.accumulate(self.cdf_at(np.exp(grid)))
        return np.exp(np.interp(np.asarray(q, dtype=np.float64), cdf, grid))

    @cached_property
    def median(self) -> float:
        """The median of s (computed once per table)."""
        return float(self.ppf(0.5))

    def sample(self, rng: np.random.Generator, size: int) -> NDArray[np.float64]:
        """Inverse-CDF samples of s."""
        return self.ppf(rng.random(size))


def htmp_density(gamma: float, kappa: float, *, cache: bool = True) -> HTMPDensity:
    """The HTMP density of s for aspect ratio gamma = M/N in (0, 1) and kappa > 0.

    Parameters
    ----------
    gamma, kappa : float
        Parameters.
    cache : bool
        Keep the table in (and take it from) a process-wide cache of the last 512 (gamma, kappa).
        Pass False for a kappa that will not be asked for again (a fitted, continuous value): caching
        it would only hold tens of kB per fit until 512 of them had accumulated.

    Raises
    ------
    ValueError
        If gamma is not in (0, 1) (the density carries mass 1/gamma for gamma > 1 and is not
        normalisable at gamma = 1) or kappa <= 0.
    """
    if not 0.0 < gamma < 1.0:
        raise ValueError(f"HTMP is restricted to gamma = M/N < 1 (mass 1/gamma otherwise), got gamma = {gamma}")
    if not kappa > 0.0:
        raise ValueError(f"HTMP needs kappa > 0, got {kappa}")
    return (_density if cache else _tabulate)(float(gamma), float(kappa))


def _tabulate(gamma: float, kappa: float) -> HTMPDensity:
    """Solve the Riccati ODE for (gamma, kappa) and tabulate the density (uncached; see :func:`htmp_density`)."""
    from scipy.integrate import solve_ivp  # only when a table is computed, not read from the cache

    a, b = 0.5 * kappa * (1.0 / gamma - 1.0) - 1.0, 0.5 * kappa
    y0 = a + 1.0 + 2.0 * b
    x0 = np.log(y0)
    rho0 = _initial_log_derivative(y0, a, b)
    start = np.array([rho0.real, np.log(-rho0.imag), 0.0])
    level0 = start[1] - x0

    def rhs(x: float, z: np.ndarray) -> list[float]:
        r, log_im, _ = z
        y = np.exp(x)
        g = a + 1.0 - y
        im = np.exp(log_im)
        return [-r * r + im * im + g * r - b * y, g - 2.0 * r, im]

    def jac(x: float, z: np.ndarray) -> list[list[float]]:
        r, log_im, _ = z
        g = a + 1.0 - np.exp(x)
        im = np.exp(log_im)
        return [[g - 2.0 * r, 2.0 * im * im, 0.0], [-2.0, 0.0, 0.0], [0.0, im, 0.0]]

    def dropped(x: float, z: np.ndarray) -> float:
        return z[1] - x - level0 + _LOG_DROP

    dropped.terminal = True
    x_lo = np.log(b / gamma * _S_FLOOR)
    x_hi = np.log(10.0 * y0 + 200.0)
    legs = [
        solve_ivp(rhs, (x0, end), start, method="LSODA", rtol=1e-8, atol=1e-10, jac=jac, events=dropped) for end in (x_lo, x_hi)
    ]
    if any(leg.status < 0 for leg in legs):
        raise ValueError(f"HTMP ODE failed for gamma={gamma}, kappa={kappa}: {legs[0].message} / {legs[1].message}")
    x = np.concatenate([legs[0].t[::-1], legs[1].t[1:]])
    r, log_im, theta = np.concatenate([legs[0].y[:, ::-1], legs[1].y[:, 1:]], axis=1)
    log_s = x + np.log(gamma / b)
    log_pdf = log_im - np.log(np.pi * b) - log_s  # p(s) = -Im rho / (pi b s)
    slope = a - np.exp(x) - 2.0 * r  # d log p / d log s = d log_im / dx - 1
    tail_below = np.exp(log_pdf[0] + log_s[0]) / (slope[0] + 1.0)  # int_0^s0 p, p ~ s^slope
    cumulative = (theta - theta[0]) / (np.pi * b) + tail_below
    mass = float(cumulative[-1])
    return HTMPDensity(gamma=gamma, kappa=kappa, log_s=log_s, log_pdf=log_pdf, slope=slope, cdf=cumulative / mass, mass=mass)


@lru_cache(maxsize=512)
def _density(gamma: float, kappa: float) -> HTMPDensity:
    """The table of (gamma, kappa): from this process's memory, else the disk cache (:mod:`netspectra.cache`),
    else computed (10-40 ms) and stored there.  The fit asks only for points of its kappa grid, shared by
    layers of one shape and by later runs."""
    key = f"{gamma!r}_{kappa!r}"
    stored = load_arrays(_CACHE_NAMESPACE, key, _TABLE)
    if stored is not None and _valid_table(stored):
        return HTMPDensity(
            gamma=gamma, kappa=kappa, **{k: v for k, v in stored.items() if k != "mass"}, mass=float(stored["mass"])
        )
    density = _tabulate(gamma, kappa)
    store_arrays(_CACHE_NAMESPACE, key, {name: np.asarray(getattr(density, name)) for name in _TABLE})
    return density


#: Disk-cache namespace of the tables; the version changes when the tabulation does.
_CACHE_NAMESPACE = "htmp-v1"


def _valid_table(arrays: dict[str, np.ndarray]) -> bool:
    """A cached table is used only if its arrays have one length, increasing knots and finite values."""
    grid = arrays["log_s"]
    shapes_agree = all(arrays[k].shape == grid.shape for k in ("log_pdf", "slope", "cdf")) and arrays["mass"].shape == ()
    return bool(
        shapes_agree and grid.size >= 2 and np.all(np.diff(grid) > 0) and all(np.all(np.isfinite(arrays[k])) for k in _TABLE)
    )


_THREAD_STATE = threading.local()


def _mpmath_context() -> Any:
    """This thread's own mpmath context at 53 bits.

    mpmath's global context is not thread-safe: its hypergeometric functions raise and restore the
    shared working precision, so two analysis threads tabulating at once ratchet it up (measured: 53 ->
    403 bits, 70x slower, and a CI run that never finished).  Each thread gets a private context instead.
    """
    ctx = getattr(_THREAD_STATE, "mpmath", None)
    if ctx is None:
        import mpmath

        ctx = _THREAD_STATE.mpmath = mpmath.MPContext()
    ctx.prec = 53
    return ctx


def _initial_log_derivative(y0: float, a: float, b: float) -> complex:
    """rho(y0) = y0 w'(y0)/w(y0), w = U(b, -a, -y): mpmath for small parameters, WKB for large ones.

    w' = dw/dy = b U(b + 1, 1 - a, -y).  mpmath's principal branch gives Im rho < 0.
    """
    root_d = np.sqrt(4.0 * b * (a + 1.0 + b))
    if b >= 4.0 and root_d >= 15.0:
        return _wkb_log_derivative(np.log(y0), a, b)
    import mpmath  # small parameters only

    ctx = _mpmath_context()
    try:
        ratio = ctx.hyperu(b + 1.0, 1.0 - a, -y0) / ctx.hyperu(b, -a, -y0)
    except mpmath.libmp.NoConvergence:  # extreme aspect ratios (N/M = 4096): no table, the fit says so
        raise ValueError(f"HTMP initial value: U({b:.3g}, {-a:.3g}, {-y0:.3g}) does not converge") from None
    return complex(y0 * b * ratio)


def _wkb_log_derivative(x0: float, a: float, b: float) -> complex:
    """Third-order WKB solution of the Riccati equation at x0 (large a, b).

    rho = rho0 + rho1 + rho2 + rho3 with rho0 = (g - i sqrt(D))/2, g = a + 1 - y, D = 4 b y - g^2, and
    rho_{k+1} = (rho_k' + sum_{i+j=k+1, i,j>=1} rho_i rho_j) / (i sqrt(D)); derivatives in x by
    fourth-order central differences on a 13-point stencil (step 0.02).
    """
    step = 0.02
    y = np.exp(x0 + step * np.arange(-6, 7))
    g = a + 1.0 - y
    i_root = 1j * np.sqrt((4.0 * b * y - g * g).astype(complex))
    terms = [(g - i_root) / 2.0]
    for order in range(1, 4):
        prev = terms[-1]
        derivative = np.full_like(prev, np.nan)
        derivative[2:-2] = (-prev[4:] + 8.0 * prev[3:-1] - 8.0 * prev[1:-3] + prev[:-4]) / (12.0 * step)
        products = sum((terms[i] * terms[order - i] for i in range(1, order)), np.zeros_like(prev))
        terms.append((derivative + products) / i_root)
    return complex(sum(t[6] for t in terms))


@dataclass(frozen=True)
class HTMPFit:
    """Result of :func:`fit_htmp`.

    Attributes
    ----------
    kappa : float
        Fitted kappa (capped at ``kappa_max``); inf when the MP law describes the layer better.
    scale : float
        c of the eigenvalue model lambda = c/s.
    alpha_htmp : float
        1 + kappa (Q - 1)/2 (inf with kappa).
    ks_distance : float
        KS distance of the eigenvalues to the fitted HTMP eigenvalue law.
    loglik_htmp, loglik_mp : float
        Maximised log-likelihoods of the HTMP model (2 parameters) and of the finite-N MP law
        (1 parameter, :func:`~netspectra.rmt.mp_bulk.mp_log_likelihood`).
    prefers_mp : bool
        MP's AIC is no worse: loglik_htmp - loglik_mp <= 1.
    """

    kappa: float
    scale: float
    alpha_htmp: float
    ks_distance: float
    loglik_htmp: float
    loglik_mp: float
    prefers_mp: bool


def fit_htmp(
    eigenvalues: ArrayLike,
    n: int,
    m: int,
    *,
    alpha: float | None = None,
    kappa_max: float = KAPPA_MAX,
) -> HTMPFit:
    """Maximum-likelihood fit of (kappa, c) in lambda = c/s, s ~ HTMP(gamma = M/N, kappa).

    The profile log-likelihood max_c sum_i log p_lambda(lambda_i) is maximised over a grid of kappa
    (2^(j/3), from alpha_HTMP = 1.2 up to ``kappa_max``), starting at the grid point nearest
    kappa_0 = 2 gamma (alpha - 1)/(1 - gamma) from the CSN exponent, galloping uphill and narrowing by
    ternary search (the profile is unimodal in practice), then refined to the vertex of the parabola
    through the best grid point and its neighbours in log kappa, whose value stands for the profile
    there.  For each kappa the scale c is found by Newton's method on log c; ``scale`` and
    ``ks_distance`` are those of the nearest grid point.  The fit is compared with MP by AIC (HTMP has
    one parameter more): kappa = alpha_htmp = inf when loglik_htmp - loglik_mp <= 1.

    Parameters
    ----------
    eigenvalues : array_like
        Eigenvalues of W^T W / N (W is N x M, N >= M); values <= 0 are dropped.
    n, m : int
        Matrix shape (swapped if N < M); gamma = M/N must be < 1.
    alpha : float, optional
        CSN power-law exponent to start from; fitted with
        :func:`~netspectra.rmt.powerlaw.fit_power_law` when omitted.
    kappa_max : float
        Cap on kappa.

    Raises
    ------
    ValueError
        If gamma = M/N >= 1 (square layers), fewer than 10 positive eigenvalues are given, or the
        power-law fit for the starting point fails.
    """
    if n < m:
        n, m = m, n
    gamma = m / n
    if not gamma < 1.0:
        raise ValueError("HTMP is restricted to gamma = M/N < 1; square layers (gamma = 1) are outside the model")
    lam = np.sort(np.asarray(eigenvalues, dtype=np.float64))
    lam = lam[lam > 0]
    if lam.size < 10:
        raise ValueError(f"HTMP fit needs at least 10 positive eigenvalues, got {lam.size}")
    if alpha is None:
        alpha = fit_power_law(lam).alpha
    log_lam = np.log(lam)
    grid = _kappa_grid(gamma, kappa_max)
    profile = _Profile(gamma, log_lam, grid)
    start = int(np.argmin(np.abs(np.log(grid) - np.log(max(kappa_from_alpha(alpha, gamma), 1e-12)))))
    best = _climb(lambda j: profile(grid[j])[0], start, grid.size)
    kappa, loglik = _refine(profile, grid, best)
    nearest = float(grid[int(np.argmin(np.abs(np.log(grid) - np.log(kappa))))])
    density = profile.density(nearest)
    log_c = profile(nearest)[1]
    loglik_mp, _ = mp_log_likelihood(lam, n, m)
    prefers_mp = bool(loglik - loglik_mp <= 1.0)
    return HTMPFit(
        kappa=np.inf if prefers_mp else kappa,
        scale=float(np.exp(log_c)),
        alpha_htmp=np.inf if prefers_mp else htmp_alpha(kappa, gamma),
        ks_distance=_ks_eigenvalues(lam, density, float(np.exp(log_c))),
        loglik_htmp=loglik,
        loglik_mp=loglik_mp,
        prefers_mp=prefers_mp,
    )


def _kappa_grid(gamma: float, kappa_max: float) -> NDArray[np.float64]:
    """kappa = 2^(j/3) from kappa(alpha = ALPHA_MIN) to kappa_max, with kappa_max as last point."""
    lo = np.log2(kappa_from_alpha(ALPHA_MIN, gamma))
    hi = np.log2(kappa_max)
    exponents = np.arange(np.ceil(lo / _GRID_STEP), np.floor(hi / _GRID_STEP) + 1) * _GRID_STEP
    grid = 2.0**exponents
    return grid if grid.size and np.isclose(grid[-1], kappa_max) else np.append(grid, kappa_max)


class _Profile:
    """Profile log-likelihood kappa -> (max_c loglik, argmax log c) on the kappa grid, memoised.

    Densities come from the process-wide cache (layers of one shape share them).  For each kappa the
    scale is found by Newton's method on log c, with the exact first and second derivatives of the
    tabulated log-density (a cubic Hermite spline), from the median-matching start.
    """

    def __init__(self, gamma: float, log_lam: np.ndarray, grid: NDArray[np.float64]) -> None:
        self.gamma = gamma
        self.log_lam = log_lam
        self.constant = -2.0 * float(log_lam.sum())
        self.cache: dict[float, tuple[float, float]] = {}

    def density(self, kappa: float) -> HTMPDensity:
        """The HTMP density at grid point ``kappa``."""
        return htmp_density(self.gamma, float(kappa))

    def __call__(self, kappa: float) -> tuple[float, float]:
        if kappa not in self.cache:
            self.cache[kappa] = _max_over_scale(self.density(kappa), self.log_lam, self.constant)
        return self.cache[kappa]


def _max_over_scale(density: HTMPDensity, log_lam: np.ndarray, constant: float) -> tuple[float, float]:
    """max over log c of sum_i log p(c / lambda_i) + n log c + constant, and the argmax.

    In u = log c the summand log p(e^(u - log lambda_i)) + u is concave near the optimum for the
    unimodal HTMP densities; Newton's method with halving steps (from the start that matches the
    medians) converges in a few steps, within [start - 8, start + 8].
    """
    size = log_lam.size

    def evaluate(u: float) -> tuple[float, float, float]:
        value, first, second = density.logpdf_log_derivatives(u - log_lam)
        return float(value.sum()) + size * u + constant, float(first.sum()) + size, float(second.sum())

    start = float(np.median(log_lam) + np.log(density.median))
    u = start
    current, gradient, curvature = evaluate(u)
    for _ in range(100):
        step = -gradient / curvature if curvature < 0 else float(np.sign(gradient)) * 0.5
        step = float(np.clip(step, -2.0, 2.0))
        while abs(step) > 1e-12:
            trial = float(np.clip(u + step, start - 8.0, start + 8.0))
            trial_value, trial_gradient, trial_curvature = evaluate(trial)
            if trial_value >= current:
                break
            step *= 0.5
        else:
            break
        converged = abs(trial - u) < 1e-9
        u, current, gradient, curvature = trial, trial_value, trial_gradient, trial_curvature
        if converged:
            break
    return current, u


def _climb(value: Callable[[int], float], start: int, size: int) -> int:
    """Index of the maximum of a unimodal ``value`` on 0..size-1, searched from ``start``.

    Gallops away from ``start`` uphill with doubling steps until the value drops, then narrows the
    bracket by ternary search: O(log size) evaluations.
    """

    def at(j: int) -> float:
        return value(j) if 0 <= j < size else -np.inf

    here = start
    direction = 1 if at(here + 1) > at(here) else -1 if at(here - 1) > at(here) else 0
    if direction == 0:
        return here
    lo, step = here, 1
    here += direction
    while True:
        ahead = min(max(here + direction * step, 0), size - 1)
        if ahead == here or at(ahead) <= at(here):
            break
        lo, here, step = here, ahead, 2 * step
    lo, hi = sorted((lo, ahead))
    while hi - lo > 2:
        left, right = lo + (hi - lo) // 3, hi - (hi - lo) // 3
        if at(left) < at(right):
            lo = left + 1
        else:
            hi = right
    return max(range(lo, hi + 1), key=at)


def _refine(profile: _Profile, grid: np.ndarray, best: int) -> tuple[float, float]:
    """(kappa, profile log-likelihood) at the vertex of the parabola through the best grid point and its
    neighbours (in log kappa), clipped to them; the grid point itself at either end of the grid.

    The parabola's value stands for the profile there: tabulating a density at a continuous kappa (an
    ODE solve) for one evaluation would cost more than the rest of the fit.
    """
    if best == 0 or best == grid.size - 1:
        return float(grid[best]), profile(grid[best])[0]
    x = np.log(grid[best - 1 : best + 2])
    y = np.array([profile(k)[0] for k in grid[best - 1 : best + 2]])
    left, right = (x[1] - x[0]) * (y[1] - y[2]), (x[1] - x[2]) * (y[1] - y[0])
    if left == right:
        return float(grid[best]), float(y[1])
    vertex = float(np.clip(x[1] - 0.5 * ((x[1] - x[0]) * left - (x[1] - x[2]) * right) / (left - right), x[0], x[2]))
    coefficients = np.polyfit(x, y, 2)
    return float(np.exp(vertex)), max(float(np.polyval(coefficients, vertex)), float(y[1]))


def _ks_eigenvalues(lam: np.ndarray, density: HTMPDensity, scale: float) -> float:
    """KS distance of sorted eigenvalues to P(lambda <= l) = 1 - F_s(c/l)."""
    f = 1.0 - density.cdf_at(scale / lam)
    i = np.arange(1, lam.size + 1)
    return float(max(np.max(i / lam.size - f), np.max(f - (i - 1) / lam.size)))
