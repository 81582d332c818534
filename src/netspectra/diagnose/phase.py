"""The 5+1 phases of training (Martin & Mahoney, JMLR 22(165), 2021, §5; Table 2 and Fig. 12).

Martin & Mahoney sort a layer's ESD into Random-like, Bleeding-out, Bulk+Spikes, Bulk-decay and
Heavy-Tailed, plus Rank-collapse, by eye.  :func:`classify_phase` makes that an explicit rule on the
fits of :mod:`netspectra.rmt` (rmt_algorithms.md §4, thresholds tuned on planted matrices — see
tests/diagnose/test_phase.py), applied in this order:

1. **rank-collapse** — more than 10% of the eigenvalues are numerically zero (the one rule of
   :func:`netspectra.diagnose.rules.rank_collapsed`, also behind the ``rank-collapse`` warning).
2. Fit the MP bulk (:func:`~netspectra.rmt.mp_bulk.fit_mp_bulk`, Tracy–Widom edge tau at ``level``,
   0.99 by default: :attr:`AnalysisOptions.depth_tw_level`);
   k = number of eigenvalues above tau, s_N the Tracy–Widom scale (Johnstone 2001); the bulk "fits"
   when its KS p-value exceeds 0.05.
3. **random-like** — k = 0 and the bulk fits.
4. The bulk fits and the outliers are few, k <= max(3, 2% of the eigenvalues):
   **bleeding-out** if they continue the bulk — sorted upwards from l+ no gap exceeds 20 s_N — and
   **bulk+spikes** otherwise (at least one outlier separated from the edge, as in the spiked model
   of Benaych-Georges & Nadakuditi 2012).
5. **heavy-tailed** — the power law on the tail is preferred over the exponential (Vuong R > 0,
   p < 0.1), a truncated power law is not significantly better (not R < 0 with p < 0.1) and
   alpha <= 6; the reason says "very" for alpha < 2, "moderately" for 2 <= alpha < 4, else "weakly".
6. **bulk-decay** — everything else: many outliers or a misfitting bulk whose tail decays faster
   than a power law (Martin & Mahoney: the bulk "decays" into the tail; alpha > 6 or no PL).

Eigenvalue convention: eigenvalues of W^T W / N, W is N x M with N >= M.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netspectra.diagnose.rules import rank_collapsed, zero_fraction
from netspectra.linalg import Spectrum
from netspectra.rmt.marchenko_pastur import TW1_QUANTILES, mp_edges, tracy_widom_edge
from netspectra.rmt.mp_bulk import MPBulkFit, fit_mp_bulk
from netspectra.rmt.powerlaw import PowerLawFit
from netspectra.rmt.tail_tests import TailComparison, compare_tail

#: The phase labels, in Martin & Mahoney's order.
PHASES = ("random-like", "bleeding-out", "bulk+spikes", "bulk-decay", "heavy-tailed", "rank-collapse")
#: The bulk fits MP when its KS p-value exceeds this.
BULK_PVALUE = 0.05
#: "Few" outliers: at most max(3, this fraction of the eigenvalues).
FEW_FRACTION = 0.02
#: Outliers continue the bulk when no gap (from l+ upwards) exceeds this many Tracy–Widom scales.
CONTIGUOUS_GAP = 20.0
#: Significance level of the likelihood-ratio tests.
LR_PVALUE = 0.1
#: Largest alpha still called heavy-tailed.
ALPHA_HEAVY = 6.0


@dataclass(frozen=True)
class PhaseResult:
    """A phase label from :data:`PHASES` and the evidence for it in one sentence."""

    phase: str
    reason: str


def classify_phase(
    spectrum: Spectrum,
    fit: PowerLawFit | None,
    *,
    bulk: MPBulkFit | None = None,
    tail: TailComparison | None = None,
    level: float = 0.99,
) -> PhaseResult:
    """Classify one layer's ESD into Martin & Mahoney's 5+1 phases by the rule in the module docstring.

    Parameters
    ----------
    spectrum : Spectrum
        Eigenvalues of W^T W / N with the shape (N, M) of each matrix.
    fit : PowerLawFit or None
        Power-law fit of the non-zero eigenvalues; without it no layer is called heavy-tailed.
    bulk : MPBulkFit, optional
        :func:`~netspectra.rmt.mp_bulk.fit_mp_bulk` at ``level``, computed if omitted.
    tail : TailComparison, optional
        :func:`~netspectra.rmt.tail_tests.compare_tail` at ``fit.xmin``, computed if omitted.
    level : float
        Tracy–Widom quantile of the bulk edge.

    Raises
    ------
    ValueError
        If ``spectrum`` holds only the top of the spectrum (``complete`` False): every phase test
        needs the bulk.
    """
    if not spectrum.complete:
        raise ValueError("phase classification needs every eigenvalue, not a tail-only window")
    evals = spectrum.eigenvalues
    if rank_collapsed(spectrum):
        share = f"{zero_fraction(spectrum):.0%}"
        return PhaseResult("rank-collapse", f"{share} of the eigenvalues are numerically zero (<= 10 M eps lambda_max)")
    if bulk is None:
        bulk = fit_mp_bulk(evals, spectrum.n, spectrum.m, level=level)
    outliers = np.sort(evals[evals > bulk.edge])
    k = outliers.size
    bulk_fits = bulk.ks_pvalue > BULK_PVALUE
    fit_text = f"MP bulk KS p = {bulk.ks_pvalue:.2g}"
    if k == 0 and bulk_fits:
        return PhaseResult("random-like", f"no eigenvalue above the Tracy-Widom edge and {fit_text}")
    if bulk_fits and k <= max(3, FEW_FRACTION * evals.size):
        scale = tracy_widom_scale(bulk.sigma2, spectrum.n, spectrum.m)
        gaps = np.diff(np.concatenate([[mp_edges(spectrum.beta, bulk.sigma2)[1]], outliers])) / scale
        if gaps.max() <= CONTIGUOUS_GAP:
            gap_text = f"largest gap {gaps.max():.1f} Tracy-Widom scales"
            return PhaseResult("bleeding-out", f"{k} outlier(s) continuing the bulk edge ({gap_text}), {fit_text}")
        gap_text = f"up to {gaps.max():.0f} Tracy-Widom scales"
        return PhaseResult("bulk+spikes", f"{k} outlier(s), separated from the bulk by {gap_text}, {fit_text}")
    if fit is not None and tail is None:
        nonzero = evals[evals > spectrum.zero_tolerance]
        tail = compare_tail(nonzero, fit.xmin, fit.alpha)
    if fit is not None and tail is not None and _power_law_preferred(fit, tail):
        degree = "very" if fit.alpha < 2.0 else "moderately" if fit.alpha < 4.0 else "weakly"
        return PhaseResult(
            "heavy-tailed",
            f"{degree} heavy-tailed: alpha = {fit.alpha:.2f}, power law preferred over exponential "
            f"(R = {tail.exponential.ratio:.2f}, p = {tail.exponential.p_value:.2g}), {k} outliers",
        )
    why = "no power-law fit" if fit is None else _why_not_heavy(fit, tail)
    return PhaseResult("bulk-decay", f"{k} eigenvalues above the bulk edge, {fit_text}, {why}")


def tracy_widom_scale(sigma2: float, n: int, m: int) -> float:
    """s_N, the Tracy–Widom scale of the largest eigenvalue of W^T W / N (Johnstone 2001, Ma 2012).

    The edge of :func:`~netspectra.rmt.marchenko_pastur.tracy_widom_edge` is linear in the TW1
    quantile, so s_N = (tau_0.99 - tau_0.90) / (q_0.99 - q_0.90).
    """
    spread = tracy_widom_edge(sigma2, n, m, 0.99) - tracy_widom_edge(sigma2, n, m, 0.90)
    return spread / (TW1_QUANTILES[0.99] - TW1_QUANTILES[0.90])


def _power_law_preferred(fit: PowerLawFit, tail: TailComparison) -> bool:
    beats_exponential = tail.exponential.ratio > 0 and tail.exponential.p_value < LR_PVALUE
    cut_off = tail.truncated_power_law.ratio < 0 and tail.truncated_power_law.p_value < LR_PVALUE
    return beats_exponential and not cut_off and fit.alpha <= ALPHA_HEAVY


def _why_not_heavy(fit: PowerLawFit, tail: TailComparison | None) -> str:
    if fit.alpha > ALPHA_HEAVY:
        return f"alpha = {fit.alpha:.2f} > {ALPHA_HEAVY:g}"
    if tail is None:
        return "tail not tested"
    if tail.truncated_power_law.ratio < 0 and tail.truncated_power_law.p_value < LR_PVALUE:
        return f"a truncated power law fits better (p = {tail.truncated_power_law.p_value:.2g})"
    return (
        f"power law not preferred over exponential (R = {tail.exponential.ratio:.2f}, "
        f"p = {tail.exponential.p_value:.2g})"
    )
