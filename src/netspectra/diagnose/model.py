"""The model-level result: every layer's row plus a summary."""

from __future__ import annotations

import difflib
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from netspectra.defaults import WARNING_LABELS
from netspectra.diagnose.experts import ExpertSpread, expert_spreads
from netspectra.diagnose.rollups import BlockRollup, RoleRollup, block_rollups, role_rollups
from netspectra.diagnose.row import LayerReport
from netspectra.errors import LayerNotFound
from netspectra.io.selection import skip_category
from netspectra.tabular import RowsTable
from netspectra.version import ALGORITHM_VERSION

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["WARNING_LABELS", "ModelReport", "ModelSummary", "RunCost", "summarize"]


@dataclass(frozen=True)
class RunCost:
    """What an analysis cost, measured by :func:`netspectra.analyze`: its wall time in seconds and the peak
    resident memory of the process (and of the worker processes it waited for) in bytes at its end
    (``getrusage``'s ``ru_maxrss``: the peak since the process started).  NaN where not measured (a run
    served by the results store, several models analyzed as one stream)."""

    wall_seconds: float = math.nan
    peak_rss_bytes: float = math.nan


@dataclass(frozen=True)
class ModelSummary:
    """Aggregates over the layers: alpha, alpha_weighted and log_alpha_norm over those whose power-law fit
    succeeded (status ``ok``), the norms, mp_area, tail_weight, spacing_ratio and phases over every analyzed
    layer (status not ``error``), the warning counts over all layers; the tensors without a row (``num_skipped``)
    counted by category of reason (``skipped_counts``, :func:`netspectra.io.skip_category`); and the algorithm
    version (:data:`netspectra.version.ALGORITHM_VERSION`) of the rows.

    The layers by role (``by_role``, :mod:`netspectra.diagnose.rollups`), by transformer block
    (``by_block``), the experts of each mixture-of-experts block and role against each other
    (``experts``, :mod:`netspectra.diagnose.experts`: their spread, the experts that stand out, counted in
    ``num_expert_outliers``), and the run's wall time and peak memory (:class:`RunCost`).

    ``log_spectral_norm_mean`` is the mean log10 ||W||_2 (W^T W / N convention, README "Conventions");
    ``log_spectral_norm_ww_mean`` and ``log_norm_ww_mean`` are WeightWatcher's ``log_spectral_norm`` and
    ``log_norm`` (log10 of s_max^2 and of ||W||_F^2), and :meth:`weightwatcher` names the means as its
    ``get_summary()`` does."""

    source: str
    algorithm_version: int
    num_layers: int
    num_ok: int
    num_errors: int
    alpha_mean: float
    alpha_median: float
    alpha_weighted_mean: float
    log_spectral_norm_mean: float
    log_frobenius_norm_mean: float
    log_norm_ww_mean: float
    log_alpha_norm_mean: float
    log_spectral_norm_ww_mean: float
    stable_rank_mean: float
    mp_area_mean: float
    tail_weight_mean: float
    spacing_ratio_mean: float
    warning_counts: dict[str, int] = field(default_factory=dict)
    phase_counts: dict[str, int] = field(default_factory=dict)
    num_skipped: int = 0
    skipped_counts: dict[str, int] = field(default_factory=dict)
    num_expert_outliers: int = 0
    wall_seconds: float = math.nan
    peak_rss_mib: float = math.nan
    by_role: tuple[RoleRollup, ...] = ()
    by_block: tuple[BlockRollup, ...] = ()
    experts: tuple[ExpertSpread, ...] = ()

    def scalars(self) -> dict[str, object]:
        """The numbers of the summary as a flat dict (counts as ``num_<warning label>`` and ``phase_<phase>``
        keys), without the groups."""
        grouped = ("warning_counts", "phase_counts", "skipped_counts", "by_role", "by_block", "experts")
        out = {k: v for k, v in self.__dict__.items() if k not in grouped}
        out.update({f"num_{label.replace('-', '_')}": n for label, n in self.warning_counts.items()})
        out.update({f"phase_{_key(phase)}": n for phase, n in self.phase_counts.items()})
        return out

    def to_dict(self) -> dict[str, object]:
        """:meth:`scalars`; the skipped tensors by category under ``skipped_reasons`` (category -> count); and the
        groups as lists of dicts under ``by_role``, ``by_block`` and ``experts``."""
        return {
            **self.scalars(),
            "skipped_reasons": dict(self.skipped_counts),
            "by_role": [group.to_dict() for group in self.by_role],
            "by_block": [group.to_dict() for group in self.by_block],
            "experts": [group.to_dict() for group in self.experts],
        }

    def weightwatcher(self) -> dict[str, float]:
        """The means WeightWatcher's ``get_summary()`` returns, under its names: ``log_norm``, ``alpha``,
        ``alpha_weighted``, ``log_alpha_norm``, ``log_spectral_norm`` and ``stable_rank`` (with
        ``ww_compat=True`` equal to WeightWatcher 0.7.7's on the same layers)."""
        return {
            "log_norm": self.log_norm_ww_mean,
            "alpha": self.alpha_mean,
            "alpha_weighted": self.alpha_weighted_mean,
            "log_alpha_norm": self.log_alpha_norm_mean,
            "log_spectral_norm": self.log_spectral_norm_ww_mean,
            "stable_rank": self.stable_rank_mean,
        }


def _key(label: str) -> str:
    return label.replace("-", "_").replace("+", "_")


@dataclass(frozen=True)
class ModelReport(RowsTable):
    """Result of :func:`netspectra.analyze`: ``layers`` (one row per matrix, :meth:`to_frame`), ``summary``, and
    ``skipped``: each tensor of the model that has no row, with the reason (tensor name -> reason).

    ``algorithm_version`` is the :data:`~netspectra.version.ALGORITHM_VERSION` that computed the rows (a
    run read from the results store keeps the version it was computed with).  ``success`` and ``message``
    say, in the manner of SciPy's result objects, whether every matrix was analyzed and if not which ones
    were not.

    ``report[name]`` (or :meth:`layer`) is the row of the matrix called ``name``; :meth:`plot` and
    :meth:`plot_alpha` draw a layer's spectrum and alpha by depth; in a notebook the report shows its
    verdict, alpha by depth and a sortable table (``_repr_html_``), at a prompt one line (``repr``).
    """

    source: str
    layers: tuple[LayerReport, ...]
    skipped: dict[str, str] = field(default_factory=dict)
    algorithm_version: int = ALGORITHM_VERSION
    cost: RunCost = RunCost()
    row_type: ClassVar[type] = LayerReport

    @property
    def summary(self) -> ModelSummary:
        return summarize(self.source, self.layers, self.algorithm_version, self.cost, self.skipped)

    @property
    def success(self) -> bool:
        """True when the model has layers and none of them has status ``error`` (a failed fit is a result)."""
        return bool(self.layers) and all(layer.status != "error" for layer in self.layers)

    @property
    def message(self) -> str:
        """``"N layers analyzed, K with a power-law fit"``, or which layers could not be analyzed and why."""
        if not self.layers:
            return "no weight matrix to analyze"
        failed = [layer for layer in self.layers if layer.status == "error"]
        if failed:
            first = failed[0]
            return f"{len(failed)} of {len(self.layers)} layers not analyzed; first {first.name}: {first.message}"
        fitted = sum(layer.success for layer in self.layers)
        return f"{len(self.layers)} layers analyzed, {fitted} with a power-law fit"

    def layer(self, name: str) -> LayerReport:
        """The row of the matrix called ``name``; :class:`~netspectra.errors.LayerNotFound` (a ``KeyError``)
        naming the closest names when there is none."""
        if not isinstance(name, str):
            raise TypeError(f"layers are looked up by name, not {type(name).__name__}: report.layers[i] is the i-th")
        for row in self.layers:
            if row.name == name:
                return row
        names = [row.name for row in self.layers]
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6) or [n for n in names if name in n][:3]
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else f" (it has {len(names)}: report.layers)"
        raise LayerNotFound(f"no layer {name!r} in {self.source}{hint}")

    def __getitem__(self, name: str) -> LayerReport:
        return self.layer(name)

    def __contains__(self, name: object) -> bool:
        return any(row.name == name for row in self.layers)

    def plot(self, name: str) -> Figure:
        """The three panels of a layer's spectrum (:func:`netspectra.report.plots.plot_layer`): a matplotlib
        figure, shown inline by a notebook."""
        from netspectra.report.plots import plot_layer

        return plot_layer(self.layer(name))

    def plot_alpha(self) -> Figure:
        """alpha and alpha_weighted of every layer by depth (:func:`netspectra.report.plots.plot_alpha_depth`)."""
        from netspectra.report.plots import plot_alpha_depth

        return plot_alpha_depth(self.to_frame())

    def __repr__(self) -> str:
        from netspectra.report.notebook import model_repr

        return model_repr(self)

    def _repr_html_(self) -> str:
        from netspectra.report.notebook import model_html

        return model_html(self)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: ``{"source", "algorithm_version", "summary", "layers": [...], "skipped": [{"name", "reason"},
        ...]}`` (non-finite floats become None)."""
        return {
            "source": self.source,
            "algorithm_version": self.algorithm_version,
            "summary": _finite_or_none(self.summary.to_dict()),
            "layers": [_finite_or_none(layer.to_dict()) for layer in self.layers],
            "skipped": [{"name": name, "reason": reason} for name, reason in self.skipped.items()],
        }


def summarize(
    source: str,
    layers: tuple[LayerReport, ...],
    algorithm_version: int = ALGORITHM_VERSION,
    cost: RunCost = RunCost(),
    skipped: Mapping[str, str] | None = None,
) -> ModelSummary:
    """Means and medians over fitted layers, counts of each warning label over all layers, the skipped tensors
    (name -> reason) counted by category (most frequent first), the groups by role, block and experts, and
    the run's cost."""
    ok = [layer for layer in layers if layer.status == "ok"]

    def mean(column: str, rows: list[LayerReport]) -> float:
        values = np.array([getattr(r, column) for r in rows], dtype=np.float64)
        values = values[np.isfinite(values)]
        return float(values.mean()) if values.size else math.nan

    alphas = np.array([r.alpha for r in ok], dtype=np.float64)
    experts = expert_spreads(layers)
    counts = {label: sum(any(w.startswith(label) for w in r.warnings) for r in layers) for label in WARNING_LABELS}
    analyzed = [r for r in layers if r.status != "error"]
    return ModelSummary(
        source=source,
        algorithm_version=algorithm_version,
        num_layers=len(layers),
        num_ok=len(ok),
        num_errors=len(layers) - len(analyzed),
        alpha_mean=float(alphas.mean()) if alphas.size else math.nan,
        alpha_median=float(np.median(alphas)) if alphas.size else math.nan,
        alpha_weighted_mean=mean("alpha_weighted", ok),
        log_spectral_norm_mean=mean("log_spectral_norm", analyzed),
        log_frobenius_norm_mean=mean("log_frobenius_norm", analyzed),
        log_norm_ww_mean=mean("log_norm_ww", analyzed),
        log_alpha_norm_mean=mean("log_alpha_norm", ok),
        log_spectral_norm_ww_mean=mean("log_spectral_norm_ww", analyzed),
        stable_rank_mean=mean("stable_rank", analyzed),
        mp_area_mean=mean("mp_area", analyzed),
        tail_weight_mean=mean("tail_weight", analyzed),
        spacing_ratio_mean=mean("spacing_ratio", analyzed),
        warning_counts=counts,
        phase_counts=dict(Counter(r.phase for r in analyzed if r.phase)),
        num_skipped=len(skipped or {}),
        skipped_counts=dict(Counter(skip_category(reason) for reason in (skipped or {}).values()).most_common()),
        num_expert_outliers=sum(len(group.outliers) for group in experts),
        wall_seconds=cost.wall_seconds,
        peak_rss_mib=cost.peak_rss_bytes / 2**20,
        by_role=role_rollups(layers),
        by_block=block_rollups(layers),
        experts=experts,
    )


def _finite_or_none(value: object) -> object:
    """``value`` with every non-finite float (in dicts and lists, at any depth) made None, for JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value
