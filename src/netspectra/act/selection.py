"""Which layers to fine-tune: a signal-to-noise ratio per weight matrix from a random-matrix threshold.

Spectrum (Hartford et al., 2024) ranks modules by SNR = sum of the singular values above a Marchenko–
Pastur threshold over the sum of those below, and unfreezes the top fraction of each module type
(q_proj, v_proj, ...).  Its threshold uses a noise level from the interquartile range of the singular
values and the bulk edge without finite-size margin.  Here the threshold is the real one:

* ``mp-edge``: the MP bulk edge with its Tracy–Widom margin at the median-based noise level
  (:func:`~netspectra.rmt.thresholds.mp_edge_threshold`), a detection threshold;
* ``gavish-donoho``: the optimal hard threshold (:func:`~netspectra.rmt.thresholds.gavish_donoho_threshold`),
  which keeps only components that help a reconstruction.

    SNR = sum_{s_i > tau} s_i / sum_{s_i <= tau} s_i,   s_i = sqrt(N lambda_i)

(Spectrum also divides by the largest singular value, which makes the ratio depend on the layer's
scale; it is not done here.)  Module types are names with their block numbers removed
(``model.layers.3.self_attn.q_proj.weight`` -> ``model.layers.*.self_attn.q_proj.weight``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from netspectra.errors import UsageError
from netspectra.rmt.thresholds import gavish_donoho_threshold, mp_edge_threshold
from netspectra.tabular import RowsTable, TableRow

if TYPE_CHECKING:
    from netspectra.diagnose.model import ModelReport
    from netspectra.diagnose.row import LayerReport

THRESHOLDS = {"mp-edge": mp_edge_threshold, "gavish-donoho": gavish_donoho_threshold}
_BLOCK_NUMBER = re.compile(r"(?<=\.)\d+(?=\.)")


def module_type(name: str) -> str:
    """The name with its block numbers replaced by ``*`` (one module type across blocks)."""
    return _BLOCK_NUMBER.sub("*", name)


def layer_snr(eigenvalues: np.ndarray, n: int, m: int, threshold: str = "mp-edge") -> tuple[float, float, int]:
    """(SNR, threshold tau on singular values, components above tau) of one N x M matrix (N >= M)
    from all M eigenvalues of W^T W / N (module docstring)."""
    if threshold not in THRESHOLDS:
        raise UsageError(f"unknown threshold {threshold!r}; choose one of {', '.join(THRESHOLDS)}")
    s = np.sqrt(np.clip(np.asarray(eigenvalues, dtype=np.float64), 0.0, None) * n)
    tau = THRESHOLDS[threshold](s, n, m).tau
    signal, noise = float(s[s > tau].sum()), float(s[s <= tau].sum())
    snr = signal / noise if noise > 0 else math.inf
    return snr, tau, int(np.count_nonzero(s > tau))


@dataclass(frozen=True)
class LayerSNR(TableRow):
    """One weight matrix: its module type, SNR, the components above the threshold, and whether selected."""

    name: str
    module_type: str
    snr: float
    num_signal: int
    selected: bool


@dataclass(frozen=True)
class LayerSelectionPlan(RowsTable):
    """Layers ranked by SNR within their type; the selected ones are the parameters to unfreeze."""

    source: str
    threshold: str
    top: float
    layers: tuple[LayerSNR, ...]
    row_type: ClassVar[type] = LayerSNR

    @property
    def selected(self) -> list[str]:
        return [layer.name for layer in self.layers if layer.selected]

    def to_dict(self) -> dict[str, object]:
        """What fine-tuning tools read: ``unfrozen_parameters`` (anchored regular expressions, Spectrum's
        format) and PEFT ``target_modules`` (module names), plus the table."""
        return {
            "method": f"signal-to-noise ratio above the {self.threshold} threshold (Spectrum-style selection)",
            "source": self.source,
            "top_fraction": self.top,
            "unfrozen_parameters": [f"^{re.escape(name)}$" for name in self.selected],
            "target_modules": [name.removesuffix(".weight") for name in self.selected],
            "layers": [{**layer.to_dict(), "snr": layer.snr if math.isfinite(layer.snr) else None} for layer in self.layers],
        }


def plan_selection(report: ModelReport, top: float, threshold: str = "mp-edge", *, per_type: bool = True) -> LayerSelectionPlan:
    """The top fraction ``top`` of each module type by SNR (``per_type=False``: of all layers at once).

    Needs each row's full spectrum (not a ``--tail-only`` run); rows in error or without eigenvalues
    are left out.  Each type keeps ceil(top x its size) layers, but never one with no singular value
    above the threshold (nothing in it but noise by this criterion).
    """
    if not 0.0 < top <= 1.0:
        raise UsageError(f"--top must lie in (0, 1], got {top}")
    usable: list[LayerReport] = [
        row
        for row in report.layers
        if row.status != "error"
        and row.eigenvalues is not None
        and row.eigenvalues.size == row.M * row.num_matrices
        and row.num_matrices == 1
        and row.kind != "embedding"
    ]
    if not usable:
        raise UsageError(f"{report.source}: no layer with a full spectrum to select from (not with --tail-only)")
    scored = [(row, *layer_snr(row.eigenvalues, row.N, row.M, threshold)) for row in usable]
    groups: dict[str, list[int]] = {}
    for i, (row, *_rest) in enumerate(scored):
        groups.setdefault(module_type(row.name) if per_type else "*", []).append(i)
    chosen: set[int] = set()
    for members in groups.values():
        keep = max(1, math.ceil(top * len(members) - 1e-9))
        chosen.update(i for i in sorted(members, key=lambda i: -scored[i][1])[:keep] if scored[i][3] > 0)
    layers = tuple(
        LayerSNR(name=row.name, module_type=module_type(row.name), snr=snr, num_signal=count, selected=i in chosen)
        for i, (row, snr, _tau, count) in enumerate(scored)
    )
    return LayerSelectionPlan(source=report.source, threshold=threshold, top=top, layers=layers)
