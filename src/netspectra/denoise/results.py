"""Typed results of a compression: one row per compressed matrix, one per copied tensor, and the model.

Column meanings (shared by ``to_dict``, ``to_frame`` and the JSON output).  W is the matrix oriented
N x M with N >= M (``transposed`` tells whether it is stored M x N); "left" is the N-dimensional side.

=====================  ==================================================================================
name, kind, dtype      stored tensor name, layer kind (linear, embedding, attention_q/k/v), stored dtype
N, M, transposed       oriented shape and whether the stored tensor is M x N
method, shrink         keep rule (``gavish-donoho``, ``rank:8``, ...) and shrinker (``hard`` keeps values)
sigma, tau             noise entry std used; keep threshold on singular values (NaN for rank/energy)
rank_selected          components the method keeps
rank                   components left after shrinkage (non-zero singular values of W_hat)
params_before          N M
params_after           parameters written: r (N + M) when stored factored, else N M
params_factored        r (N + M), what a factored file needs for this matrix
rel_fro_error          ||W - W_hat||_F / ||W||_F
rel_spec_error         ||W - W_hat||_2 / ||W||_2
energy_kept            ||W_hat||_F^2 / ||W||_F^2 = sum eta_i^2 / sum s_i^2, the share of the layer's energy written
mean_pred_cos2_left    mean over kept components of the predicted |<u_hat_i, u_i>|^2 (BGN, N side)
mean_pred_cos2_right   same for the M-dimensional singular vectors
pred_cos2_left/right   per kept component
measured_cos2_*        per component |<u_hat_i, u_i>|^2 against a given reference signal (else empty)
signal_rel_error       ||W_hat - S||_F / ||S||_F against the reference signal S (else NaN)
warning                e.g. nothing above the threshold, so the matrix was replaced by zeros
=====================  ==================================================================================
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from netspectra.denoise.function import FunctionCheck
from netspectra.tabular import TableRow, finite_row

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class LayerCompression(TableRow):
    """One compressed matrix; see the module docstring for the columns."""

    name: str
    kind: str
    dtype: str
    N: int
    M: int
    transposed: bool
    method: str
    shrink: str
    sigma: float
    tau: float
    rank_selected: int
    rank: int
    params_before: int
    params_after: int
    params_factored: int
    rel_fro_error: float
    rel_spec_error: float
    energy_kept: float
    mean_pred_cos2_left: float
    mean_pred_cos2_right: float
    pred_cos2_left: tuple[float, ...]
    pred_cos2_right: tuple[float, ...]
    measured_cos2_left: tuple[float, ...] = ()
    measured_cos2_right: tuple[float, ...] = ()
    signal_rel_error: float = math.nan
    warning: str = ""

    @property
    def damage(self) -> str:
        """Why this layer was destroyed rather than denoised ("" when it was not): zeroed, or most of its
        energy removed (:data:`MIN_ENERGY_KEPT`)."""
        if self.rank == 0:
            return "zeroed"
        if self.energy_kept < MIN_ENERGY_KEPT:
            return f"keeps {self.energy_kept:.0%} of its energy"
        return ""


#: A compressed layer that keeps less than this share of its Frobenius energy ||W||_F^2 is destroyed, not
#: denoised.  Denoising removes energy on purpose (the noise's, and the optimal shrinkers the bias it adds
#: to the kept values: the digits MLP of tests/denoise/test_digits.py keeps 68-72% with hard thresholds and
#: 48-51% with Frobenius shrinkage, at unchanged accuracy), but a layer left with a quarter of its energy
#: has lost more than noise: the thresholds read a heavy-tailed spectrum, which is not signal plus MP noise,
#: as mostly noise (all-MiniLM-L6-v2 with the default gavish-donoho: 2 layers zeroed, 6 below 25%, its
#: sentence embeddings then at cosine 0.18 to the original's).
MIN_ENERGY_KEPT = 0.25


@dataclass(frozen=True)
class CopiedTensor(TableRow):
    """A tensor written unchanged, with the reason (1-D, conv kernel, fused QKV, integer dtype, NaN, ...)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    params: int
    reason: str


@dataclass(frozen=True)
class CompressionReport:
    """Result of :func:`~netspectra.denoise.compress_model`.

    Attributes
    ----------
    source, output : str
        Input model and written file.
    method, shrink : str
        Keep rule and shrinker.
    factored : bool
        Whether compressed matrices were written as ``NAME.A`` / ``NAME.B`` factors.
    layers : tuple of LayerCompression
        The compressed matrices, in model order.
    copied : tuple of CopiedTensor
        Every tensor written unchanged.
    function : FunctionCheck or None
        The compressed model judged as a whole (:mod:`netspectra.denoise.function`): its outputs on the
        probe inputs against the original's where the model runs, else the data-free chain bound.
    """

    source: str
    output: str
    method: str
    shrink: str
    factored: bool
    layers: tuple[LayerCompression, ...]
    copied: tuple[CopiedTensor, ...]
    function: FunctionCheck | None = None

    @property
    def refused(self) -> bool:
        """Whether :func:`~netspectra.denoise.compress_model` refuses to write this compression without
        ``force``: a layer is destroyed, or the function check fails."""
        return bool(self.damaged) or (self.function is not None and not self.function.passed)

    @property
    def params_before(self) -> int:
        """Parameters of the input, all tensors."""
        return sum(layer.params_before for layer in self.layers) + sum(t.params for t in self.copied)

    @property
    def params_after(self) -> int:
        """Parameters written, all tensors."""
        return sum(layer.params_after for layer in self.layers) + sum(t.params for t in self.copied)

    @property
    def median_energy_kept(self) -> float:
        """Median over the compressed matrices of the share of their energy kept (NaN without any)."""
        return float(statistics.median(layer.energy_kept for layer in self.layers)) if self.layers else math.nan

    @property
    def damaged(self) -> tuple[LayerCompression, ...]:
        """The compressed layers that were destroyed (:attr:`LayerCompression.damage`), least energy first."""
        return tuple(sorted((layer for layer in self.layers if layer.damage), key=lambda layer: layer.energy_kept))

    def damage_summary(self) -> str:
        """One sentence on the destroyed layers ("" when there are none)."""
        damaged = self.damaged
        if not damaged:
            return ""
        zeroed = sum(layer.rank == 0 for layer in damaged)
        worst = damaged[0]
        return (
            f"{len(damaged)} of {len(self.layers)} matrices destroyed ({zeroed} zeroed, "
            f"{len(damaged) - zeroed} keeping less than {MIN_ENERGY_KEPT:.0%} of their energy; worst "
            f"{worst.name}: {worst.damage}); median energy kept {self.median_energy_kept:.0%}"
        )

    @property
    def compression_ratio(self) -> float:
        """params_before / params_after over the whole file (1.0 for a dense output)."""
        return self.params_before / self.params_after if self.params_after else math.nan

    @property
    def factored_ratio(self) -> float:
        """params_before / params with every compressed matrix factored where smaller: the default layout."""
        after = sum(min(x.params_factored, x.params_before) for x in self.layers) + sum(t.params for t in self.copied)
        return self.params_before / after if after else math.nan

    def summary(self) -> dict[str, object]:
        """Totals: counts, parameters, ratios, and copied tensors counted by reason."""
        return {
            "source": self.source,
            "output": self.output,
            "method": self.method,
            "shrink": self.shrink,
            "factored": self.factored,
            "num_compressed": len(self.layers),
            "num_copied": len(self.copied),
            "params_before": self.params_before,
            "params_after": self.params_after,
            "compression_ratio": self.compression_ratio,
            "factored_ratio": self.factored_ratio,
            "median_energy_kept": self.median_energy_kept,
            "num_destroyed": len(self.damaged),
            "copied_reasons": dict(Counter(t.reason for t in self.copied)),
            **{f"function_{k}": v for k, v in (self.function.to_dict() if self.function else {}).items()},
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per compressed matrix, columns in :meth:`LayerCompression.columns` order."""
        import pandas as pd

        return pd.DataFrame([layer.to_dict() for layer in self.layers], columns=LayerCompression.columns())

    def copied_frame(self) -> pd.DataFrame:
        """One row per tensor copied unchanged."""
        import pandas as pd

        return pd.DataFrame([t.to_dict() for t in self.copied], columns=[f.name for f in fields(CopiedTensor)])

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: summary, layers and copied tensors (non-finite floats become None)."""
        return {
            "summary": finite_row(self.summary()),
            "layers": [finite_row(layer.to_dict()) for layer in self.layers],
            "copied": [t.to_dict() for t in self.copied],
        }
