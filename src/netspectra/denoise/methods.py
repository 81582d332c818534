"""How many singular components to keep: the RMT thresholds, a fixed rank, or an energy fraction.

A method is written as on the command line: ``mp-edge``, ``gavish-donoho``, ``bema``, ``rank:K``
(keep the K largest) or ``energy:F`` (keep the fewest components holding a fraction F of
||W||_F^2 = sum s_i^2).  Every method also fixes the noise level sigma used by the shrinkers and the
overlap predictions: its own estimate for the RMT methods, the median estimate
median(s) / sqrt(N mu_beta) for ``rank`` and ``energy`` (Gavish & Donoho, IEEE TIT 60(8), 2014).

Convention: W is N x M with N >= M; singular values s_1 >= ... >= s_M of W.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from netspectra.constraints import Interval, OneOf, check_value
from netspectra.errors import UsageError
from netspectra.rmt.thresholds import SHRINKERS, THRESHOLD_METHODS, rmt_threshold, sigma_from_median

#: Method names as written before the optional ``:VALUE``.
METHOD_KINDS = (*THRESHOLD_METHODS, "rank", "energy")
#: ``hard`` keeps the selected singular values as they are; the others are optimal shrinkers.
SHRINK_KINDS = ("hard", *SHRINKERS)
#: Default smallest M compressed (see :func:`netspectra.denoise.compress_model`).
DEFAULT_MIN_DIM = 32


@dataclass(frozen=True)
class Selection:
    """The components a method keeps.

    Attributes
    ----------
    rank : int
        Number of leading singular components kept (before any shrinkage).
    tau : float
        Keep threshold on the singular values (keep s_i > tau); NaN for ``rank`` and ``energy``.
    sigma : float
        Noise entry standard deviation used for shrinkage and overlap predictions.
    """

    rank: int
    tau: float
    sigma: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Method:
    """A compression method: ``kind`` in :data:`METHOD_KINDS`, ``value`` K (``rank``, an integer >= 1) or F
    (``energy``, 0 < F <= 1), NaN for the RMT thresholds.  Checked when made: ``Method("gavish_donoho")``
    is refused, not run as a method that keeps every component; :meth:`parse` reads the command-line form.
    """

    kind: str
    value: float = math.nan

    def __post_init__(self) -> None:
        check_value("Method.kind", self.kind, [OneOf(*METHOD_KINDS)])
        if self.kind == "rank":
            check_value("Method.value of rank:K", self.value, [Interval(int, 1, None)])
        elif self.kind == "energy":
            check_value("Method.value of energy:F", self.value, [Interval(float, 0.0, 1.0, closed="right")])
        elif not math.isnan(self.value):
            raise UsageError(f"Method.value = {self.value!r}: {self.kind} takes no value")

    @classmethod
    def parse(cls, text: str) -> Method:
        """Parse ``mp-edge``, ``gavish-donoho``, ``bema``, ``rank:K`` (K >= 1) or ``energy:F`` (0 < F <= 1)."""
        kind, sep, arg = text.strip().partition(":")
        if kind in THRESHOLD_METHODS and not sep:
            return cls(kind)
        if kind == "rank" and sep:
            if arg.isdigit() and int(arg) >= 1:
                return cls("rank", int(arg))
            raise UsageError(f"rank:K needs an integer K >= 1, got {text!r}")
        if kind == "energy" and sep:
            try:
                fraction = float(arg)
            except ValueError:
                fraction = math.nan
            if 0.0 < fraction <= 1.0:
                return cls("energy", fraction)
            raise UsageError(f"energy:F needs a fraction 0 < F <= 1, got {text!r}")
        raise UsageError(f"unknown method {text!r}; expected mp-edge, gavish-donoho, bema, rank:K or energy:F")

    def __str__(self) -> str:
        if self.kind == "rank":
            return f"rank:{int(self.value)}"
        if self.kind == "energy":
            return f"energy:{self.value:g}"
        return self.kind

    def select(self, singular_values: np.ndarray, n: int, m: int, sigma: float | None = None) -> Selection:
        """Choose the kept components of an N x M matrix (N >= M) from its descending singular values.

        Parameters
        ----------
        singular_values : ndarray
            All M singular values of W, descending.
        n, m : int
            Shape of W, N >= M.
        sigma : float, optional
            Known noise entry standard deviation (else estimated as described in the module docstring).
        """
        s = np.asarray(singular_values, dtype=np.float64)
        if self.kind in THRESHOLD_METHODS:
            threshold = rmt_threshold(self.kind, s, n, m, sigma)
            return Selection(threshold.count(s), threshold.tau, threshold.sigma)
        noise = float(sigma) if sigma is not None else sigma_from_median(s, n, m)
        if self.kind == "rank":
            return Selection(min(int(self.value), s.size), math.nan, noise)
        energy = np.cumsum(s**2)
        if energy[-1] == 0.0:
            return Selection(0, math.nan, noise)
        rank = int(np.searchsorted(energy, self.value * energy[-1])) + 1
        return Selection(min(rank, s.size), math.nan, noise)
