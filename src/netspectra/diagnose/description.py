"""What a model holds, without decomposing anything: one row per weight matrix (WeightWatcher's ``describe()``).

Convention: each matrix is oriented N x M with N >= M; it has M eigenvalues (of W^T W / N), a conv stack of
k positions k M when pooled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from netspectra.io import WeightMatrix
from netspectra.tabular import RowsTable, TableRow


@dataclass(frozen=True)
class MatrixShape(TableRow):
    """One weight matrix: name, position among those described (``layer_index``, as in an analysis with the same
    selection) and among all the model's (``model_index``, what ``layers=`` picks), kind, stored shape and dtype,
    oriented N x M, Q, stack size, eigenvalues, parameters."""

    name: str
    layer_index: int
    model_index: int
    kind: str
    shape: str
    dtype: str
    N: int
    M: int
    Q: float
    num_matrices: int
    num_evals: int
    num_params: int

    @classmethod
    def of(cls, weight: WeightMatrix) -> MatrixShape:
        n, m = weight.matrix_shape
        return cls(
            name=weight.name,
            layer_index=weight.layer_index,
            model_index=weight.model_index,
            kind=weight.kind,
            shape="x".join(map(str, weight.shape)),
            dtype=weight.dtype,
            N=n,
            M=m,
            Q=n / m if m else float("nan"),
            num_matrices=weight.num_matrices,
            num_evals=m * weight.num_matrices,
            num_params=n * m * weight.num_matrices,
        )


@dataclass(frozen=True)
class ModelDescription(RowsTable):
    """Result of :func:`netspectra.describe`: ``layers`` (one :class:`MatrixShape` per matrix the selection keeps,
    :meth:`to_frame`) and ``skipped`` (tensor name -> why it has no row)."""

    source: str
    layers: tuple[MatrixShape, ...]
    skipped: dict[str, str] = field(default_factory=dict)
    row_type: ClassVar[type] = MatrixShape

    @property
    def num_evals(self) -> int:
        """Eigenvalues an analysis would compute, over all matrices."""
        return sum(layer.num_evals for layer in self.layers)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: ``{"source", "num_layers", "num_evals", "layers": [...], "skipped": [{"name", "reason"}, ...]}``."""
        return {
            "source": self.source,
            "num_layers": len(self.layers),
            "num_evals": self.num_evals,
            "layers": self.rows(),
            "skipped": [{"name": name, "reason": reason} for name, reason in self.skipped.items()],
        }
