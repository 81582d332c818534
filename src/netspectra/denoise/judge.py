"""The judges of a whole-model compression, and the search for a setting that passes them.

:func:`make_judge` gives the outputs judge (the model runs: :mod:`netspectra.denoise.probe`) or the bound
judge (it cannot: :func:`~netspectra.denoise.function.chain_bound`).  Both see each compressed matrix once,
as the compressor produces it (:meth:`observe`), give the :class:`~netspectra.denoise.function.FunctionCheck`
of the compression (:meth:`check`), and try other settings on the same measure without decomposing
anything again (:meth:`evaluate`): the outputs judge keeps each matrix's SVD and rebuilds W_hat from it;
the bound judge keeps only the singular values, which fix eps, the energy kept and the rank of a ``hard``
truncation.  :func:`search` then finds the most compressive of :data:`CANDIDATES` that passes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from netspectra.denoise.function import (
    FunctionCheck,
    bound_check,
    chain_bound,
    output_agreement,
    outputs_check,
    truncation_errors,
)
from netspectra.denoise.lowrank import LowRank, OrientedSVD, compress_svd, stored_product
from netspectra.denoise.methods import Method
from netspectra.denoise.probe import ProbeModel
from netspectra.denoise.results import MIN_ENERGY_KEPT, LayerCompression
from netspectra.io import TensorRecord

#: Settings tried when a compression is refused, from the most to the least compressive, all with the
#: ``hard`` shrinker (a shrinker zeroes every component below the noise edge, so energy:F with one keeps
#: what the RMT thresholds keep, whatever F).
CANDIDATES = tuple(Method("energy", f) for f in (0.9, 0.95, 0.98, 0.99, 0.995, 0.999))


@dataclass(frozen=True)
class Candidate:
    """A setting tried on the judge's measure: its verdict, its per-layer damage and its parameter ratio."""

    method: str
    shrink: str
    check: FunctionCheck
    damage: str
    compression_ratio: float

    @property
    def passes(self) -> bool:
        """The function check passes and no layer is destroyed."""
        return self.check.passed and not self.damage

    def describe(self) -> str:
        """``energy:0.99 (mean cosine 0.995, compression ratio 1.21x)``, with the damage where there is some."""
        damage = f", {self.damage}" if self.damage else ""
        return f"{self.method} ({self.check.measure()}{damage}, compression ratio {self.compression_ratio:.2f}x)"


class _Judge:
    """What both judges share: the matrices seen, in order, with their stored dtype and layer kind."""

    def __init__(self, factored: bool) -> None:
        self.factored = factored
        self.records: list[tuple[TensorRecord, str]] = []

    def _ratio(self, layers: Sequence[tuple[int, int]], other_params: int) -> float:
        """params_before / params_after over the file, from (before, after) per compressed matrix."""
        before = sum(b for b, _ in layers) + other_params
        after = sum(a for _, a in layers) + other_params
        return before / after if after else math.nan


class OutputsJudge(_Judge):
    """Runs the original and the compressed model on the probe inputs."""

    def __init__(self, probe: ProbeModel, factored: bool) -> None:
        super().__init__(factored)
        self.probe = probe
        self.svds: list[OrientedSVD] = []

    def observe(self, record: TensorRecord, kind: str, svd: OrientedSVD, factors: LowRank) -> None:
        """Write the compressed matrix, as the output file stores it, into the probe model."""
        self.records.append((record, kind))
        self.svds.append(svd)
        self.probe.set_matrix(record.name, stored_product(factors, record.dtype))

    def check(self, layers: Sequence[LayerCompression]) -> FunctionCheck:
        """Run the model as it now stands (every observed matrix compressed) and compare with the original."""
        outputs = self.probe.run()
        cosines, rel_error = output_agreement(self.probe.reference.values, outputs.values, outputs.mask)
        bound = chain_bound(layer.rel_spec_error for layer in layers)
        return outputs_check(cosines, rel_error, bound, self.probe.inputs_label, outputs.label)

    def evaluate(self, method: Method, other_params: int) -> Candidate:
        """Rebuild every observed matrix with ``method`` (hard) from its SVD, run the model and judge it."""
        layers = []
        for (record, kind), svd in zip(self.records, self.svds):
            layer, factors = compress_svd(
                svd, method, "hard", name=record.name, kind=kind, dtype=record.dtype, factored=self.factored
            )
            self.probe.set_matrix(record.name, stored_product(factors, record.dtype))
            layers.append(layer)
        return _candidate(
            method, self.check(layers), layers, self._ratio([(x.params_before, x.params_after) for x in layers], other_params)
        )


class BoundJudge(_Judge):
    """The data-free chain bound, from the singular values of each matrix."""

    def __init__(self, note: str, factored: bool) -> None:
        super().__init__(factored)
        self.note = note
        self.spectra: list[np.ndarray] = []

    def observe(self, record: TensorRecord, kind: str, svd: OrientedSVD | np.ndarray, factors: LowRank | None) -> None:
        """Keep the matrix's singular values (``svd`` may be only them; ``factors`` are not needed)."""
        self.records.append((record, kind))
        self.spectra.append(np.asarray(svd.s if isinstance(svd, OrientedSVD) else svd))

    def check(self, layers: Sequence[LayerCompression]) -> FunctionCheck:
        return bound_check(chain_bound(layer.rel_spec_error for layer in layers), self.note)

    def evaluate(self, method: Method, other_params: int) -> Candidate:
        """``method`` with the hard shrinker, judged from the kept singular values alone."""
        errors, params, damages = [], [], []
        for (record, _), s in zip(self.records, self.spectra):
            n, m = max(record.shape), s.size
            rank = method.select(s, n, m).rank
            eps, energy = truncation_errors(s, rank)
            errors.append(eps)
            factored = rank * (n + m)
            params.append((n * m, factored if self.factored and factored < n * m else n * m))
            damages.append(_damage(record.name, rank, energy))
        check = bound_check(chain_bound(errors), self.note)
        damaged = [d for d in damages if d]
        damage = f"{len(damaged)} matrices destroyed ({damaged[0]})" if damaged else ""
        return Candidate(str(method), "hard", check, damage, self._ratio(params, other_params))


Judge = OutputsJudge | BoundJudge


def make_judge(probe: ProbeModel | str, factored: bool) -> Judge:
    """The outputs judge of a loaded model (:func:`~netspectra.denoise.probe.open_probe`), or the bound
    judge with the reason the model does not run."""
    return BoundJudge(probe, factored) if isinstance(probe, str) else OutputsJudge(probe, factored)


def search(judge: Judge, refused: tuple[str, str], other_params: int) -> tuple[Candidate | None, Candidate | None]:
    """The most compressive of :data:`CANDIDATES` that passes the judge, or the least compressive one tried.

    ``refused`` (method, shrink) is left out.  The least compressive candidate is tried first: if it fails,
    none is assumed to pass (a larger energy fraction keeps every component a smaller one keeps, so the
    rebuilt matrices only get closer to the originals); else the first that passes is found by bisection.

    Returns
    -------
    (best, tried)
        ``best`` the candidate to suggest (checked) or None; ``tried`` the least compressive candidate
        when none passes (its numbers say how far off it is), else None.
    """
    candidates = [m for m in CANDIDATES if (str(m), "hard") != refused]
    last = judge.evaluate(candidates[-1], other_params)
    if not last.passes:
        return None, last
    best, low, high = last, 0, len(candidates) - 1
    while low < high:
        middle = (low + high) // 2
        tried = judge.evaluate(candidates[middle], other_params)
        if tried.passes:
            best, high = tried, middle
        else:
            low = middle + 1
    return best, None


def _candidate(method: Method, check: FunctionCheck, layers: Sequence[LayerCompression], ratio: float) -> Candidate:
    damaged = [layer for layer in layers if layer.damage]
    damage = f"{len(damaged)} matrices destroyed ({damaged[0].name}: {damaged[0].damage})" if damaged else ""
    return Candidate(str(method), "hard", check, damage, ratio)


def _damage(name: str, rank: int, energy_kept: float) -> str:
    """As :attr:`LayerCompression.damage`, from the rank and energy kept."""
    if rank == 0:
        return f"{name}: zeroed"
    return f"{name}: keeps {energy_kept:.0%} of its energy" if energy_kept < MIN_ENERGY_KEPT else ""
