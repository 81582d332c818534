"""Which eigenvalue backend computes the spectrum of an N x M matrix: :func:`choose_backend`.

Convention: W is N x M with N >= M; the eigenvalues are those of X = W^T W / N.

Backends
--------
``dense``       float64 Gram + LAPACK ``syevd``, SVD when the Gram is too coarse (:mod:`.dense`).
``torch``       the same in torch, on CUDA when available (:mod:`.torch_backend`).
``lanczos``     top K only, ARPACK on the operator W^T W / N (:mod:`.lanczos`); needs ``tail_only``.
``randomized``  top K only, randomized SVD (:mod:`.randomized`); needs ``tail_only``; never automatic.
``refined``     top K only, float32 Gram + ``ssyevr`` on the top 2K, refined and checked in float64, exact
                float64 dense path where the check fails (:mod:`.refined`); needs ``tail_only``.

``auto`` (the default) picks, for a full spectrum, ``torch`` when CUDA is available and M >= 1024
(below that, transfers and kernel launches cost more than the CPU's ``syevd``), else ``dense``; for the
top K (``tail_only``), ``lanczos`` when M >= 1024 and K <= M (1 + 4M / (3N)) / 256, else the full-spectrum
choice, where that is ``dense`` replaced by ``refined`` when M >= 1024 and 32 K N <= N M + 4 M^2 / 3
(:func:`refined_pays`; ``--backend dense`` turns it off; tail-only rows that need log det keep ``dense``:
:mod:`netspectra.diagnose.tail`).
The Lanczos rule compares c K 4 N M flops (c products of the operator per wanted eigenvalue) with
N M^2 + 4/3 M^3 for Gram + tridiagonalisation, with c = 64.  That is not a count of products (measured:
2 to 20 per eigenvalue depending on how clustered the top of the spectrum is, 3.5 on the 7B-shaped
benchmark) but a cost: a product is two memory-bound matrix-vector passes over W, several times slower
per flop than the compute-bound Gram matrix, and the window may double.
Measured on 2 cores (11008 x 4096, K = 64 doubled to 128): Lanczos 12.8 s (664 products) against 4.3 s
for the whole spectrum by Gram + ``syevd`` (docs/scale.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from netspectra.constraints import NONE, Constraint, Interval, OneOf, check_constraints
from netspectra.errors import UsageError
from netspectra.linalg.torch_backend import cuda_available

#: Names accepted by :class:`SpectrumOptions` (``auto`` resolves to one of the others).
BACKENDS = ("auto", "dense", "torch", "lanczos", "randomized", "refined")
#: Backends that compute only the top K eigenvalues.
TOP_K_BACKENDS = ("lanczos", "randomized", "refined")
#: Smallest M for which ``auto`` moves a full decomposition to the GPU.
TORCH_MIN_DIM = 1024
#: Smallest M for which ``auto`` uses Lanczos for the top K.
LANCZOS_MIN_DIM = 1024
#: Cost of Lanczos per wanted eigenvalue, in operator products' flops (c above).
LANCZOS_PRODUCTS_PER_EIGENVALUE = 64
#: Smallest M for which ``auto`` takes the float32 window refined in float64 (``refined``) for the top K.
REFINED_MIN_DIM = 1024
#: ``refined`` pays while its float64 refinement costs at most this fraction of the dense path's flops.
REFINED_MAX_SHARE = 0.25


@dataclass(frozen=True)
class SpectrumOptions:
    """How eigenvalues are computed.

    Attributes
    ----------
    backend : str
        One of :data:`BACKENDS`.
    tail_only : int, optional
        Compute only the top K eigenvalues of each layer and fit the power law on them
        (docs/formulas.md#tail-only-windows); bulk metrics are then unknown.  ``None``: every eigenvalue.
    """

    backend: str = "auto"
    tail_only: int | None = None

    _constraints: ClassVar[dict[str, list[Constraint]]] = {
        "backend": [OneOf(*BACKENDS)],
        "tail_only": [NONE, Interval(int, 2, None)],
    }

    def __post_init__(self) -> None:
        check_constraints(self)
        if self.backend in TOP_K_BACKENDS and self.tail_only is None:
            raise UsageError(f"backend {self.backend!r} computes only the top eigenvalues: give tail_only K too")


def lanczos_pays(n: int, m: int, k: int) -> bool:
    """Whether Lanczos for the top k beats the dense path: c k 4 N M < N M^2 + 4/3 M^3, c = 64."""
    return m >= LANCZOS_MIN_DIM and 4 * LANCZOS_PRODUCTS_PER_EIGENVALUE * k * n <= n * m + 4 * m * m / 3


def refined_pays(n: int, m: int, k: int) -> bool:
    """Whether the float32 window refined in float64 beats the dense path for the top k: M >= REFINED_MIN_DIM and
    the refinement's 4 N M (2k) float64 flops (two products of W with 2k vectors) at most REFINED_MAX_SHARE of
    N M^2 + 4/3 M^3, i.e. 32 k N <= N M + 4 M^2 / 3.  Its float32 Gram and reduction take about half the dense
    time (measured, one BLAS thread, 11008 x 4096: 1.3 s + 2.6 s, against 6.4-6.8 s for the float64 Gram +
    ``syevd``; docs/scale.md)."""
    return m >= REFINED_MIN_DIM and 8 * k * n <= REFINED_MAX_SHARE * (n * m + 4 * m * m / 3)


def full_spectrum(options: SpectrumOptions) -> SpectrumOptions:
    """The same options for a full spectrum: ``tail_only`` dropped, a top-K backend replaced by ``auto``."""
    return SpectrumOptions(backend="auto" if options.backend in TOP_K_BACKENDS else options.backend)


def choose_backend(n: int, m: int, options: SpectrumOptions) -> str:
    """The backend for an N x M matrix (N >= M): ``dense``, ``torch``, ``lanczos`` or ``randomized``.

    Without ``tail_only``: ``dense`` or ``torch`` (explicit, or ``auto``: torch when CUDA is available
    and M >= TORCH_MIN_DIM).  With ``tail_only`` K: an explicit top-K backend as is, ``auto`` -> ``lanczos``
    when :func:`lanczos_pays`, else the full-spectrum choice (whose top K are then used), ``dense`` replaced by
    ``refined`` where :func:`refined_pays`.
    """
    if options.tail_only is not None:
        if options.backend in TOP_K_BACKENDS:
            return options.backend
        if options.backend == "auto" and lanczos_pays(n, m, options.tail_only):
            return "lanczos"
    if options.backend in ("dense", "torch"):
        return options.backend
    if m >= TORCH_MIN_DIM and cuda_available():
        return "torch"
    return "refined" if options.tail_only is not None and refined_pays(n, m, options.tail_only) else "dense"
