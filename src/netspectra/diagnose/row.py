"""One row per weight matrix, grouped by concern; each column is named once, as a field of its group.

Eigenvalue convention: W is N x M with N >= M, lambda_i are the eigenvalues of W^T W / N and the
singular values of W are s_i = sqrt(N lambda_i).  The columns of :class:`WWColumns` use WeightWatcher's
unnormalised eigenvalues s_i^2 (times k/2 for a Conv2D kernel with k spatial positions) so that they
compare with the published results (Martin, Peng & Mahoney, Nat. Commun. 12:4122, 2021).  Column
meanings: README ("Columns").

A :class:`LayerReport` holds one instance of each group, the RMT-depth groups inside its
:class:`DepthColumns`; their order is the column order of the table, CSV, Parquet, JSON and the results
store.  Its columns read as typed attributes (``layer.alpha`` is a ``float``, ``layer.mp_area``), generated
from the groups into :mod:`netspectra.diagnose.row_attributes`; warnings are a tuple of labels
(``layer.warnings``), joined into the ``warning`` column with ``"; "`` only where rows leave the library
(:meth:`LayerReport.to_dict`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from netspectra.diagnose.row_attributes import RowAttributes
from netspectra.tabular import TableRow

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Separator of the labels in the ``warning`` column.
WARNING_SEPARATOR = "; "


@dataclass(frozen=True)
class ColumnGroup(TableRow):
    """Base of the column groups: a frozen dataclass whose fields are columns."""

    @classmethod
    def column_types(cls) -> dict[str, str]:
        """Column name -> annotation (``"int"``, ``"float"``, ``"str"``, ``"bool | None"``, ``"int | None"``)."""
        return {f.name: str(f.type) for f in fields(cls)}

    @classmethod
    def from_columns(cls, values: dict[str, Any]) -> Self:
        """The group of its columns in ``values`` (missing ones keep their defaults)."""
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})


@dataclass(frozen=True)
class LayerIdentity(ColumnGroup):
    """Which matrix: name, order in the model, kind, oriented shape, stack size, eigenvalue count."""

    name: str
    layer_index: int
    kind: str
    N: int
    M: int
    Q: float
    num_matrices: int
    num_evals: int


@dataclass(frozen=True)
class PlacementColumns(ColumnGroup):
    """Where the matrix sits in its model (:class:`netspectra.io.roles.Placement`): its role (``attn_q``,
    ``mlp_down``, ``expert_up``, ``router``, ``embedding``, ``lm_head``, ..., ``other``), stack (``encoder``,
    ``decoder``, ``vision``, ``text``; empty for one stack), transformer block (-1 outside the blocks) and
    expert index (-1 but for the experts of a mixture-of-experts block)."""

    role: str = "other"
    stack: str = ""
    block: int = -1
    expert: int = -1


@dataclass(frozen=True)
class NormColumns(ColumnGroup):
    """Norms, ranks and entropy of the spectrum."""

    lambda_max: float = math.nan
    spectral_norm: float = math.nan
    log_spectral_norm: float = math.nan
    frobenius_norm: float = math.nan
    log_frobenius_norm: float = math.nan
    stable_rank: float = math.nan
    effective_rank: float = math.nan
    entropy: float = math.nan
    rank_loss: int = 0
    log_det: float = math.nan
    log_det_error: float = math.nan


@dataclass(frozen=True)
class MPColumns(ColumnGroup):
    """Marchenko–Pastur noise level, bulk edges and the spikes above the Tracy–Widom edge (``num_spikes``
    None where no edge was computed: a tail-only window, a matrix not analyzed)."""

    sigma2_mp: float = math.nan
    lambda_plus: float = math.nan
    lambda_plus_tw: float = math.nan
    num_spikes: int | None = None
    bulk_fraction: float = math.nan


@dataclass(frozen=True)
class QuantizationColumns(ColumnGroup):
    """The noise a quantized format adds, beside the MP noise level (:mod:`netspectra.io.quant_noise`,
    :mod:`netspectra.diagnose.quantization`): ``sigma2_quant``, the mean per-entry variance of the rounding
    error known from the stored blocks' steps (0 for float32, NaN where the format is not quantized or not
    read), and ``quant_share`` = sigma2_quant / sigma2_mp."""

    sigma2_quant: float = math.nan
    quant_share: float = math.nan


@dataclass(frozen=True)
class PowerLawColumns(ColumnGroup):
    """Power-law tail fit (Clauset, Shalizi & Newman 2009)."""

    alpha: float = math.nan
    alpha_se: float = math.nan
    alpha_lo: float = math.nan
    alpha_hi: float = math.nan
    xmin: float = math.nan
    xmax: float = math.nan
    ks_distance: float = math.nan
    num_tail: int = 0
    detx_num: int = 0
    detx_val: float = math.nan


@dataclass(frozen=True)
class WWColumns(ColumnGroup):
    """WeightWatcher-convention metrics (unnormalised eigenvalues s_i^2)."""

    alpha_weighted: float = math.nan
    lambda_max_ww: float = math.nan
    log_spectral_norm_ww: float = math.nan
    log_norm_ww: float = math.nan
    log_alpha_norm: float = math.nan


@dataclass(frozen=True)
class WWFitColumns(ColumnGroup):
    """WeightWatcher's tail choices beside the row's own (:mod:`netspectra.diagnose.ww_fit`).

    ``alpha_ww``, ``xmin_ww`` (in its units s_i^2, x k/2 for Conv2D) and ``num_tail_ww``: WeightWatcher 0.7.7's
    default fit, the KS minimum over tails of any length (:func:`netspectra.rmt.ww_powerlaw.fit_power_law_ww`);
    ``num_fingers`` and ``raw_alpha``: the largest eigenvalues clipped by ``fix_fingers='clip_xmax'`` and the
    alpha before; the ``_tpl`` columns: the truncated power law of ``fit='TPL'``/``'E_TPL'``, xmin and
    ``lambda_tpl`` in the units of W^T W / N.
    """

    alpha_ww: float = math.nan
    xmin_ww: float = math.nan
    num_tail_ww: int = 0
    num_fingers: int = 0
    raw_alpha: float = math.nan
    alpha_tpl: float = math.nan
    lambda_tpl: float = math.nan
    xmin_tpl: float = math.nan
    ks_distance_tpl: float = math.nan
    num_tail_tpl: int = 0


@dataclass(frozen=True)
class VectorColumns(ColumnGroup):
    """Localization of the right singular vectors below xmin (bulk) and above it (tail), WeightWatcher's
    ``vectors=True`` columns: mean and variance of the discrete entropy, the localization ratio and the
    participation ratio (:mod:`netspectra.rmt.localization`); NaN unless ``AnalysisOptions.vectors``."""

    bulk_mean_vec_entropy: float = math.nan
    bulk_var_vec_entropy: float = math.nan
    tail_mean_vec_entropy: float = math.nan
    tail_var_vec_entropy: float = math.nan
    bulk_mean_loc_ratio: float = math.nan
    bulk_var_loc_ratio: float = math.nan
    tail_mean_loc_ratio: float = math.nan
    tail_var_loc_ratio: float = math.nan
    bulk_mean_part_ratio: float = math.nan
    bulk_var_part_ratio: float = math.nan
    tail_mean_part_ratio: float = math.nan
    tail_var_part_ratio: float = math.nan


@dataclass(frozen=True)
class PhaseColumns(ColumnGroup):
    """The phase of training and its evidence (:mod:`netspectra.diagnose.phase`); empty when not classified."""

    phase: str = ""
    phase_reason: str = ""


@dataclass(frozen=True)
class BulkColumns(ColumnGroup):
    """Trimmed Marchenko–Pastur fit of the bulk (:mod:`netspectra.rmt.mp_bulk`)."""

    mp_width: float = math.nan
    mp_area: float = math.nan
    tail_weight: float = math.nan
    ks_bulk_mp: float = math.nan
    p_bulk_mp: float = math.nan


@dataclass(frozen=True)
class SpikeColumns(ColumnGroup):
    """Signal strength and predicted singular-vector overlaps of the largest spike (:mod:`netspectra.rmt.spikes`)."""

    spike_strength_max: float = math.nan
    spike_cos2_left_max: float = math.nan
    spike_cos2_right_max: float = math.nan
    spike_note: str = ""


@dataclass(frozen=True)
class HTMPColumns(ColumnGroup):
    """Heavy-tailed Marchenko–Pastur fit (:mod:`netspectra.rmt.htmp`)."""

    kappa_htmp: float = math.nan
    alpha_htmp: float = math.nan
    htmp_prefers_mp: bool | None = None


@dataclass(frozen=True)
class SpacingColumns(ColumnGroup):
    """Level-spacing statistics of the bulk (:mod:`netspectra.rmt.spacing`)."""

    spacing_ratio: float = math.nan
    ks_goe: float = math.nan
    ks_poisson: float = math.nan
    spacing_unfolding: str = ""


@dataclass(frozen=True)
class TailTestColumns(ColumnGroup):
    """Likelihood-ratio tests of the power-law tail against alternatives (:mod:`netspectra.rmt.tail_tests`)."""

    lr_exponential: float = math.nan
    p_exponential: float = math.nan
    lr_lognormal: float = math.nan
    p_lognormal: float = math.nan
    lr_truncated_pl: float = math.nan
    p_truncated_pl: float = math.nan


@dataclass(frozen=True)
class ShuffleColumns(ColumnGroup):
    """The layer against its own entries shuffled (:mod:`netspectra.rmt.entry_null`)."""

    shuffle_distance: float = math.nan
    shuffle_lambda_ratio: float = math.nan
    structure_index: float = math.nan
    large_entries: bool | None = None


@dataclass(frozen=True)
class OutcomeColumns(ColumnGroup):
    """Stored dtype, status (``ok``, ``fit-failed``, ``error``) and warning labels.

    ``warnings`` is a tuple of labels; its column is ``warning``, the labels joined by ``"; "``.
    """

    dtype: str = ""
    status: str = "ok"
    warnings: tuple[str, ...] = ()

    @classmethod
    def column_types(cls) -> dict[str, str]:
        return {"dtype": "str", "status": "str", "warning": "str"}

    def to_dict(self) -> dict[str, object]:
        return {"dtype": self.dtype, "status": self.status, "warning": WARNING_SEPARATOR.join(self.warnings)}

    @classmethod
    def from_columns(cls, values: dict[str, Any]) -> OutcomeColumns:
        warning = values.get("warning") or ""
        return cls(
            dtype=values.get("dtype", ""),
            status=values.get("status", "ok"),
            warnings=tuple(warning.split(WARNING_SEPARATOR)) if warning else (),
        )


@dataclass(frozen=True)
class DepthColumns:
    """The RMT-depth groups of a row (:mod:`netspectra.diagnose.depth`); all NaN/empty without depth analysis."""

    phase_columns: PhaseColumns = PhaseColumns()
    bulk: BulkColumns = BulkColumns()
    spikes: SpikeColumns = SpikeColumns()
    htmp: HTMPColumns = HTMPColumns()
    spacing: SpacingColumns = SpacingColumns()
    tail_tests: TailTestColumns = TailTestColumns()
    shuffle: ShuffleColumns = ShuffleColumns()


#: Where each group of a row sits: its path of attributes from the row, in column order.
GROUP_PATHS: dict[tuple[str, ...], type[ColumnGroup]] = {
    ("identity",): LayerIdentity,
    ("placement",): PlacementColumns,
    ("norms",): NormColumns,
    ("mp",): MPColumns,
    ("quantization",): QuantizationColumns,
    ("power_law",): PowerLawColumns,
    ("ww",): WWColumns,
    ("ww_fits",): WWFitColumns,
    ("vectors",): VectorColumns,
    **{("depth", f.name): f.default.__class__ for f in fields(DepthColumns)},
    ("outcome",): OutcomeColumns,
}

#: Column name (and ``warnings``) -> the path of the group that holds it.
_PATH_OF: dict[str, tuple[str, ...]] = {
    column: path for path, kind in GROUP_PATHS.items() for column in [*kind.column_types(), *(f.name for f in fields(kind))]
}


@dataclass(frozen=True)
class LayerReport(RowAttributes):
    """All metrics of one weight matrix: one :class:`ColumnGroup` per concern (:data:`GROUP_PATHS`).

    Every column reads as a typed attribute (``layer.alpha``, :class:`RowAttributes`); ``layer.warnings``
    is the tuple of labels and ``layer.warning`` their ``"; "``-joined column.  ``success`` and ``message``
    say whether the layer was fitted and why not, in the manner of SciPy's result objects.
    ``eigenvalues`` (of W^T W / N, ascending) are kept so that plots, the store, compare and track never
    decompose the matrix again; not a column.
    """

    identity: LayerIdentity
    placement: PlacementColumns = PlacementColumns()
    norms: NormColumns = NormColumns()
    mp: MPColumns = MPColumns()
    quantization: QuantizationColumns = QuantizationColumns()
    power_law: PowerLawColumns = PowerLawColumns()
    ww: WWColumns = WWColumns()
    ww_fits: WWFitColumns = WWFitColumns()
    vectors: VectorColumns = VectorColumns()
    depth: DepthColumns = DepthColumns()
    outcome: OutcomeColumns = OutcomeColumns()
    eigenvalues: np.ndarray | None = field(default=None, repr=False, compare=False)

    def group(self, path: tuple[str, ...]) -> ColumnGroup:
        """The group at ``path`` (a key of :data:`GROUP_PATHS`)."""
        node: Any = self
        for attribute in path:
            node = getattr(node, attribute)
        return node

    @property
    def success(self) -> bool:
        """True when the layer was analyzed and its power law fitted (status ``ok``)."""
        return self.outcome.status == "ok"

    @property
    def message(self) -> str:
        """``analyzed`` (and the warnings), ``no power-law fit: <why>`` or ``not analyzed: <why>``."""
        status, warnings = self.outcome.status, self.outcome.warnings
        if status == "error":
            return f"not analyzed: {self.warning or 'no reason recorded'}"
        if status != "ok":
            reasons = [w.removeprefix("fit-failed: ") for w in warnings if w.startswith("fit-failed")]
            return "no power-law fit" + (f": {WARNING_SEPARATOR.join(reasons)}" if reasons else "")
        return "analyzed" + (f"; warnings: {self.warning}" if warnings else "")

    @property
    def warning(self) -> str:
        """The ``warning`` column: the labels joined by ``"; "``."""
        return WARNING_SEPARATOR.join(self.outcome.warnings)

    @classmethod
    def columns(cls) -> list[str]:
        """Stable column order shared by the table, CSV, Parquet, JSON and the store."""
        return list(column_types())

    def to_dict(self) -> dict[str, object]:
        """The row as a plain dict, keys in column order (without the eigenvalues)."""
        out: dict[str, object] = {}
        for path in GROUP_PATHS:
            out.update(self.group(path).to_dict())
        return out

    @classmethod
    def from_columns(cls, values: dict[str, Any], eigenvalues: np.ndarray | None = None) -> LayerReport:
        """The row of a dict of columns (as :meth:`to_dict` writes them, e.g. read back from the store)."""
        groups = {path: kind.from_columns(values) for path, kind in GROUP_PATHS.items()}
        depth = DepthColumns(**{path[1]: group for path, group in groups.items() if path[0] == "depth"})
        top = {path[0]: group for path, group in groups.items() if len(path) == 1}
        return cls(**top, depth=depth, eigenvalues=eigenvalues)  # type: ignore[arg-type]

    def with_columns(self, **values: Any) -> LayerReport:
        """A copy with these columns replaced (``warnings=`` takes a tuple of labels)."""
        changes: dict[tuple[str, ...], dict[str, Any]] = {}
        for name, value in values.items():
            if name not in _PATH_OF or name == "warning":
                hint = " (give warnings=(labels...))" if name == "warning" else ""
                raise TypeError(f"unknown column {name!r}{hint}")
            changes.setdefault(_PATH_OF[name], {})[name] = value
        top: dict[str, Any] = {}
        depth: dict[str, Any] = {}
        for path, new in changes.items():
            group = replace(self.group(path), **new)
            (depth if path[0] == "depth" else top)[path[-1]] = group
        if depth:
            top["depth"] = replace(self.depth, **depth)
        return replace(self, **top)

    def with_warnings(self, *labels: str) -> LayerReport:
        """A copy with ``labels`` appended to the warnings."""
        return self.with_columns(warnings=(*self.outcome.warnings, *labels))

    def plot(self) -> Figure:
        """The three panels of the layer's spectrum (:func:`netspectra.report.plots.plot_layer`): a matplotlib
        figure, shown inline by a notebook."""
        from netspectra.report.plots import plot_layer

        return plot_layer(self)

    def __repr__(self) -> str:
        from netspectra.report.notebook import layer_repr

        return layer_repr(self)

    def _repr_html_(self) -> str:
        from netspectra.report.notebook import layer_html

        return layer_html(self)


def column_types() -> dict[str, str]:
    """Column name -> annotation of every column, in column order (the store's table layout)."""
    out: dict[str, str] = {}
    for kind in GROUP_PATHS.values():
        out.update(kind.column_types())
    return out
