"""Per-layer and per-model results of comparing two checkpoints, and the rules that flag a layer.

A matched layer is **flagged** when any of these holds (each adds its label to ``reasons``):

* ``weights``: ||W_B - W_A||_F / ||W_A||_F > ``rel_frobenius`` (default 1e-3).  Float32 storage
  round-off is ~1e-7 relative, a bf16 round trip ~2e-3, an int8 round trip ~1e-2;
* ``alpha``: |alpha_B - alpha_A| > ``alpha_z`` sqrt(se_A^2 + se_B^2) (default 2), the standard error
  of a difference of two CSN estimates, se = (alpha - 1)/sqrt(n_tail); only when both fits succeed;
* ``spikes``: |num_spikes_B - num_spikes_A| >= ``spikes`` (default 1): an eigenvalue crossed the
  Tracy–Widom edge of the Marchenko–Pastur bulk; only when both rows have the edge (a tail-only row
  has none: its ``num_spikes`` and the delta are empty);
* ``phase``: the ``phase`` labels differ (only when LayerReport has a ``phase`` column);
* ``status``: the row status differs (``ok``, ``fit-failed``, ``error``).

Identical weights give exactly zero deltas and are never flagged.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, ClassVar

from netspectra.constraints import Constraint, Interval, check_constraints
from netspectra.report.shown import Shown
from netspectra.tabular import RowsTable, TableRow

if TYPE_CHECKING:
    from netspectra.compare.diff import DiffSpectrum
    from netspectra.compare.matching import Unmatched
    from netspectra.diagnose.row import LayerReport


@dataclass(frozen=True)
class ChangeThresholds:
    """Thresholds of the flag rules (see the module docstring)."""

    rel_frobenius: float = 1e-3
    alpha_z: float = 2.0
    spikes: int = 1

    _constraints: ClassVar[dict[str, list[Constraint]]] = {
        "rel_frobenius": [Interval(float, 0.0, None)],
        "alpha_z": [Interval(float, 0.0, None, closed="neither")],
        "spikes": [Interval(int, 1, None)],
    }

    def __post_init__(self) -> None:
        check_constraints(self)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class LayerComparison(TableRow):
    """One matched layer: A's and B's metrics, their deltas (B - A) and the spectrum of W_B - W_A."""

    name_a: str
    name_b: str
    matched_by: str
    kind: str
    N: int
    M: int
    status_a: str
    status_b: str
    alpha_a: float
    alpha_b: float
    delta_alpha: float
    alpha_z: float
    delta_alpha_weighted: float
    delta_log_spectral_norm: float
    delta_effective_rank: float
    num_spikes_a: int | None
    num_spikes_b: int | None
    delta_num_spikes: int | None
    diff_rank: int
    diff_rel_frobenius: float
    diff_rel_spectral: float
    diff_alpha: float
    flagged: bool
    reasons: str
    phase_a: str = ""
    phase_b: str = ""
    cka: float = math.nan


@dataclass(frozen=True, repr=False)
class ModelComparison(RowsTable, Shown):
    """Result of :func:`netspectra.compare.compare_models` (one row per matched layer: :meth:`to_frame`)."""

    source_a: str
    source_b: str
    layers: tuple[LayerComparison, ...]
    unmatched: tuple[Unmatched, ...]
    thresholds: ChangeThresholds
    warning: str = ""
    row_type: ClassVar[type] = LayerComparison
    shown_as: ClassVar[str] = "comparison"

    @property
    def flagged(self) -> tuple[str, ...]:
        """Names (in A) of the flagged layers."""
        return tuple(layer.name_a for layer in self.layers if layer.flagged)

    def ranked_by_damage(self) -> ModelComparison:
        """The same comparison with layers most changed first: by the relative error of the weights
        ||W_B - W_A||_F / ||W_A||_F, then by |delta alpha| (a layer without either comes last).

        The question it answers: which layers did quantization (or a merge, or fine-tuning) change most?
        """

        def damage(layer: LayerComparison) -> tuple[float, float]:
            error, shift = layer.diff_rel_frobenius, abs(layer.delta_alpha)
            return (-error if math.isfinite(error) else math.inf, -shift if math.isfinite(shift) else math.inf)

        return replace(self, layers=tuple(sorted(self.layers, key=damage)))

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: sources, thresholds, layers (non-finite floats as None) and unmatched matrices."""
        return {
            "source_a": self.source_a,
            "source_b": self.source_b,
            "thresholds": self.thresholds.to_dict(),
            "layers": self.finite_rows(),
            "unmatched": [u.to_dict() for u in self.unmatched],
            "warning": self.warning,
        }


def compare_layer(
    a: LayerReport,
    b: LayerReport,
    diff: DiffSpectrum | None,
    matched_by: str,
    thresholds: ChangeThresholds,
    *,
    cka: float = math.nan,
) -> LayerComparison:
    """Deltas (B - A) of one matched layer and the flag rules applied to them.

    ``diff`` is None when either matrix has no spectrum (status ``error``); its columns are then NaN
    and -1 for the rank.  ``cka``: WeightWatcher's CKA of the two matrices (:mod:`netspectra.compare.cka`).
    """
    se = math.hypot(a.alpha_se, b.alpha_se)
    delta_alpha = b.alpha - a.alpha
    z = abs(delta_alpha) / se if se > 0 else math.nan  # NaN unless both fits succeeded
    delta_spikes = None if a.num_spikes is None or b.num_spikes is None else b.num_spikes - a.num_spikes
    phase_a, phase_b = a.phase, b.phase
    rel_frobenius = diff.rel_frobenius if diff else math.nan
    reasons = [
        label
        for label, hit in (
            ("weights", rel_frobenius > thresholds.rel_frobenius),
            ("alpha", z > thresholds.alpha_z),
            ("spikes", delta_spikes is not None and abs(delta_spikes) >= thresholds.spikes),
            ("phase", phase_a != phase_b),
            ("status", a.status != b.status),
        )
        if hit
    ]
    return LayerComparison(
        name_a=a.name,
        name_b=b.name,
        matched_by=matched_by,
        kind=a.kind,
        N=a.N,
        M=a.M,
        status_a=a.status,
        status_b=b.status,
        alpha_a=a.alpha,
        alpha_b=b.alpha,
        delta_alpha=delta_alpha,
        alpha_z=z,
        delta_alpha_weighted=b.alpha_weighted - a.alpha_weighted,
        delta_log_spectral_norm=b.log_spectral_norm - a.log_spectral_norm,
        delta_effective_rank=b.effective_rank - a.effective_rank,
        num_spikes_a=a.num_spikes,
        num_spikes_b=b.num_spikes,
        delta_num_spikes=delta_spikes,
        diff_rank=diff.rank if diff else -1,
        diff_rel_frobenius=rel_frobenius,
        diff_rel_spectral=diff.rel_spectral if diff else math.nan,
        diff_alpha=diff.alpha if diff else math.nan,
        flagged=bool(reasons),
        reasons="; ".join(reasons),
        phase_a=phase_a,
        phase_b=phase_b,
        cka=cka,
    )
