"""The 5+1 phases of training (Martin & Mahoney, JMLR 22(165), 2021, §5; Table 2 and Fig. 12).

Martin & Mahoney sort a layer's ESD into Random-like, Bleeding-out, Bulk+Spikes, Bulk-decay and
Heavy-Tailed, plus Rank-collapse, by eye.  :func:`classify_phase` makes that an explicit rule on the
fits of :mod:`netspectra.rmt`, calibrated on matrices with a known answer (benchmarks/calibrate_labels.py;
rates in README, "Verdicts and how often they are right"), with one reading their taxonomy lacks,
**isometric** (a spectrum narrower than noise), applied in this order:

1. **rank-collapse** — more than 10% of the eigenvalues are numerically zero (the one rule of
   :func:`netspectra.diagnose.rules.rank_collapsed`, also behind the ``rank-collapse`` warning and the
   model summary's count).
2. Fit the MP bulk (:func:`~netspectra.rmt.mp_bulk.fit_mp_bulk`, Tracy–Widom edge at ``level``, 0.99 by
   default: :attr:`AnalysisOptions.depth_tw_level`); the bulk "fits" when its KS p-value exceeds 0.05.
   The **outliers** are the eigenvalues above the noise ceiling of the layer's own entries
   (:meth:`~netspectra.rmt.entry_null.EntryNull.noise_ceiling`: the bulk's Tracy–Widom edge moved by the
   entries' kurtosis, or what single large entries make when shuffled, whichever is higher), so that the
   outliers of sparse or heavy-tailed noise are not read as signal.
3. **isometric** — no outlier, and the spectrum is *narrower* than the layer's shuffled entries make it
   (structure index more than 3 null standard deviations below 0; the structure test is two-sided): the
   singular values are closer to equal than at random, down to an isometry, whose eigenvalues are all
   equal (structure index -beta / (1 + beta): orthonormal columns, a Haar-orthogonal matrix, an
   orthogonal initialisation).  Neither random nor one of Martin & Mahoney's phases of learning.
4. **random-like** — no outlier, and the spectrum is no wider and no narrower than the layer's shuffled
   entries make it (structure index within 3 null standard deviations of 0,
   :mod:`netspectra.rmt.entry_null`): a random matrix of any entry law, at any size, whether or not its
   finite-size bulk looks like MP (sparse noise does not).  Without the entries (``null`` None) the MP
   fit decides instead.
5. **bulk+spikes** / **bleeding-out** — the bulk fits MP and either (a) fewer than ``min_tail``
   eigenvalues stand above the ceiling (too few for a tail): bleeding-out if, sorted upwards from l+, no
   gap exceeds 20 Tracy–Widom scales s_N, bulk+spikes otherwise; or (b) any number of outliers stand
   apart from the bulk: the rest of the spectrum ends within 20 s_N of l+ and the lowest outlier stands
   more than 40 s_N above it (above l+ when the rest ends below): bulk+spikes, a rank-r signal, r the
   number of outliers (Benaych-Georges & Nadakuditi 2012: each component above the BBP threshold is an
   outlier, however many there are).  A power-law tail grows out of the bulk with no such gap: where the
   noise ceiling cuts it far above l+, eigenvalues between l+ and the ceiling continue it.
6. **heavy-tailed** — the power-law fit has alpha <= 6 and its tail is not significantly better described
   by an exponential (not R < 0 with p < 0.1 in the Vuong test): "very" heavy-tailed for alpha < 2,
   "moderately" for 2 <= alpha < 4, "weakly" for 4 <= alpha <= 6 (Martin & Mahoney's ranges).  The
   phase follows alpha: whether a finite sample can *prove* a power law (p < 0.1 the other way round) is
   reported in ``phase_reason`` and in the tail-test columns, not required (on planted power laws with
   alpha = 4 it is not reached in most draws of 300 to 1000 eigenvalues).
7. **bulk-decay** — everything else: a structured spectrum whose tail decays faster than a power law
   (alpha > 6, or an exponential fits the tail better), over an MP bulk or not.

The count in step 5a is a fixed minimum, the points a tail fit needs (``min_tail``), not a share of M: an
MP bulk with 9 outliers is read as spikes whatever their alpha, because a power law fitted to 9 points
is no evidence of one; the old rule's max(3, 2% of M) made the phase of a 500-column layer flip between
10 and 11 outliers.  Step 5b keeps the count from deciding where the spectrum itself does: 10, 20 or 50
planted components over Gaussian noise were read as a power law (alpha 1.8-2.6, "power law preferred
over exponential"), because a power law fitted from inside the bulk through a cluster of outliers
prefers itself to an exponential; a gap between the bulk and the outliers is what no tail has.

Eigenvalue convention: eigenvalues of W^T W / N, W is N x M with N >= M.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netspectra.defaults import DEPTH_TW_LEVEL, MIN_TAIL, MODERATE_ALPHA, OVER_TRAINED_ALPHA, TW1_QUANTILES, UNDER_TRAINED_ALPHA
from netspectra.diagnose.rules import rank_collapsed, zero_fraction
from netspectra.linalg import Spectrum
from netspectra.rmt.entry_null import EntryNull
from netspectra.rmt.marchenko_pastur import mp_edges, tracy_widom_edge
from netspectra.rmt.mp_bulk import MPBulkFit, fit_mp_bulk
from netspectra.rmt.powerlaw import PowerLawFit
from netspectra.rmt.tail_tests import TailComparison, compare_tail

#: The phase labels, in Martin & Mahoney's order, then the spectrum narrower than noise.
PHASES = ("random-like", "bleeding-out", "bulk+spikes", "bulk-decay", "heavy-tailed", "rank-collapse", "isometric")
#: The phases of a few components over MP noise (the spiked model of Benaych-Georges & Nadakuditi 2012).
SPIKED_PHASES = ("bleeding-out", "bulk+spikes")
#: The bulk fits MP when its KS p-value exceeds this.
BULK_PVALUE = 0.05
#: Outliers continue the bulk when no gap (from l+ upwards) exceeds this many Tracy–Widom scales.
CONTIGUOUS_GAP = 20.0
#: min_tail or more outliers are a rank-r signal when the lowest stands this many Tracy–Widom scales above the
#: bulk (measured, benchmarks/calibrate_labels.py: planted power-law tails, alpha 2.5 and 4 at the six
#: calibration shapes, 20 draws each, left gaps of at most 24 s_N, 10-50 components of strength 2-6 over
#: noise gaps of 40-60 s_N at 300 x 300 and over 100 s_N at the other shapes).
SEPARATED_GAP = 40.0
#: Significance level of the likelihood-ratio tests.
LR_PVALUE = 0.1


@dataclass(frozen=True)
class PhaseResult:
    """A phase label from :data:`PHASES` and the evidence for it in one sentence."""

    phase: str
    reason: str


def classify_phase(
    spectrum: Spectrum,
    fit: PowerLawFit | None,
    *,
    null: EntryNull | None = None,
    bulk: MPBulkFit | None = None,
    tail: TailComparison | None = None,
    level: float = DEPTH_TW_LEVEL,
    min_tail: int = MIN_TAIL,
) -> PhaseResult:
    """Classify one layer's ESD into Martin & Mahoney's 5+1 phases by the rule in the module docstring.

    Parameters
    ----------
    spectrum : Spectrum
        Eigenvalues of W^T W / N with the shape (N, M) of each matrix.
    fit : PowerLawFit or None
        Power-law fit of the non-zero eigenvalues; without it no layer is called heavy-tailed.
    null : EntryNull, optional
        :func:`~netspectra.rmt.entry_null.entry_null` of the layer's matrices; without it the outliers
        are the eigenvalues above the bulk's Tracy–Widom edge and random-like needs an MP bulk.
    bulk : MPBulkFit, optional
        :func:`~netspectra.rmt.mp_bulk.fit_mp_bulk` at ``level``, computed if omitted.
    tail : TailComparison, optional
        :func:`~netspectra.rmt.tail_tests.compare_tail` at ``fit.xmin``, computed if omitted.
    level : float
        Tracy–Widom quantile of the bulk edge (``AnalysisOptions.depth_tw_level``).
    min_tail : int
        Fewer outliers than this over an MP bulk are too few for a tail: bleeding-out or bulk+spikes
        (``AnalysisOptions.min_tail``, the fewest eigenvalues of a power-law tail).

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
    ceiling = bulk.edge if null is None else null.noise_ceiling(bulk.sigma2, spectrum.n, spectrum.m, level)
    outliers = np.sort(evals[evals > ceiling])
    k = outliers.size
    bulk_fits = bulk.ks_pvalue > BULK_PVALUE
    fit_text = f"MP bulk KS p = {bulk.ks_pvalue:.2g}"
    if k == 0 and null is not None and null.narrower:
        return PhaseResult("isometric", _narrow_text(null, spectrum.beta, fit_text))
    if k == 0 and (not null.structured if null is not None else bulk_fits):
        return PhaseResult("random-like", f"no eigenvalue above the noise ceiling of its entries, {_noise_text(fit_text, null)}")
    if bulk_fits and 0 < k < min_tail:
        return _spikes(outliers, spectrum, bulk, fit_text)
    if bulk_fits and k > 0:
        edge, scale = mp_edges(spectrum.beta, bulk.sigma2)[1], tracy_widom_scale(bulk.sigma2, spectrum.n, spectrum.m)
        top_of_rest = float(np.max(evals[evals <= ceiling], initial=0.0))
        gap = (outliers[0] - max(edge, top_of_rest)) / scale
        if top_of_rest - edge <= CONTIGUOUS_GAP * scale and gap > SEPARATED_GAP:
            separated = f"separated from the bulk by a gap of {gap:.0f} Tracy-Widom scales"
            return PhaseResult("bulk+spikes", f"rank-{k} signal: {k} outliers, {separated}, {fit_text}")
    if fit is not None and tail is None:
        tail = compare_tail(evals[evals > spectrum.zero_tolerance], fit.xmin, fit.alpha)
    if fit is not None and _heavy_tailed(fit, tail):
        degree = "very" if fit.alpha < OVER_TRAINED_ALPHA else "moderately" if fit.alpha < MODERATE_ALPHA else "weakly"
        return PhaseResult("heavy-tailed", f"{degree} heavy-tailed: alpha = {fit.alpha:.2f}, {_tail_text(tail)}, {k} outliers")
    why = "no power-law fit" if fit is None else _why_not_heavy(fit, tail)
    return PhaseResult("bulk-decay", f"{k} eigenvalues above the noise ceiling, {fit_text}, {why}")


def tracy_widom_scale(sigma2: float, n: int, m: int) -> float:
    """s_N, the Tracy–Widom scale of the largest eigenvalue of W^T W / N (Johnstone 2001, Ma 2012).

    The edge of :func:`~netspectra.rmt.marchenko_pastur.tracy_widom_edge` is linear in the TW1
    quantile, so s_N = (tau_0.99 - tau_0.90) / (q_0.99 - q_0.90).
    """
    spread = tracy_widom_edge(sigma2, n, m, 0.99) - tracy_widom_edge(sigma2, n, m, 0.90)
    return spread / (TW1_QUANTILES[0.99] - TW1_QUANTILES[0.90])


def _spikes(outliers: np.ndarray, spectrum: Spectrum, bulk: MPBulkFit, fit_text: str) -> PhaseResult:
    """bleeding-out or bulk+spikes: do the outliers continue the MP edge or stand apart from it?"""
    scale = tracy_widom_scale(bulk.sigma2, spectrum.n, spectrum.m)
    gaps = np.diff(np.concatenate([[mp_edges(spectrum.beta, bulk.sigma2)[1]], outliers])) / scale
    k = outliers.size
    if gaps.max() <= CONTIGUOUS_GAP:
        gap_text = f"largest gap {gaps.max():.1f} Tracy-Widom scales"
        return PhaseResult("bleeding-out", f"{k} outlier(s) continuing the bulk edge ({gap_text}), {fit_text}")
    gap_text = f"up to {gaps.max():.0f} Tracy-Widom scales"
    return PhaseResult("bulk+spikes", f"rank-{k} signal: {k} outlier(s), separated from the bulk by {gap_text}, {fit_text}")


def _noise_text(fit_text: str, null: EntryNull | None) -> str:
    if null is None:
        return fit_text
    return (
        f"no wider than its shuffled entries make it (structure index {null.structure_index:.3f}, "
        f"null sd {null.structure_sd:.3f}), {fit_text}"
    )


def _narrow_text(null: EntryNull, beta: float, fit_text: str) -> str:
    return (
        f"no eigenvalue above the noise ceiling of its entries and narrower than its shuffled entries make it "
        f"(structure index {null.structure_index:.3f}, {-null.structure_index / null.structure_sd:.0f} null sd below 0; "
        f"an isometry has {-beta / (1.0 + beta):.3f}): singular values closer to equal than at random, {fit_text}"
    )


def _exponential_better(tail: TailComparison | None) -> bool:
    return tail is not None and tail.exponential.ratio < 0 and tail.exponential.p_value < LR_PVALUE


def _heavy_tailed(fit: PowerLawFit, tail: TailComparison | None) -> bool:
    return fit.alpha <= UNDER_TRAINED_ALPHA and not _exponential_better(tail)


def _tail_text(tail: TailComparison | None) -> str:
    if tail is None:
        return "tail not tested"
    preferred = tail.exponential.ratio > 0 and tail.exponential.p_value < LR_PVALUE
    verdict = "preferred over" if preferred else "not distinguished from"
    return f"power law {verdict} exponential (R = {tail.exponential.ratio:.2f}, p = {tail.exponential.p_value:.2g})"


def _why_not_heavy(fit: PowerLawFit, tail: TailComparison | None) -> str:
    if fit.alpha > UNDER_TRAINED_ALPHA:
        return f"alpha = {fit.alpha:.2f} > {UNDER_TRAINED_ALPHA:g}"
    assert tail is not None
    return f"an exponential fits the tail better (R = {tail.exponential.ratio:.2f}, p = {tail.exponential.p_value:.2g})"
