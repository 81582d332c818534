"""How many worker processes, and how many BLAS threads each: the sizing rule of the parallel executors.

Rule (measured in ``benchmarks/bench_scale.py``, docs/scale.md):

* one process when the model is small: the estimated work sum_layers k (N M^2 + 4/3 M^3) (Gram plus
  tridiagonalisation, in flops) is below ``PARALLEL_MIN_FLOPS``, about 4 s of one core, where starting
  worker processes (about 1 s each: a fresh interpreter importing numpy, scipy and netspectra) would
  cost more than it saves;
* otherwise as many processes as CPUs, but no more than there are layers, and no more than fit in the
  available memory at ``worker_peak_bytes`` of the largest layer each;
* BLAS/OpenMP threads per worker = CPUs // workers, so that workers x threads <= CPUs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

#: Below this much estimated work (flops), analysis runs in one process.
PARALLEL_MIN_FLOPS = 2e10
#: Layers above this much work (flops; about 1 s of one core) are analyzed one at a time in this process.
THREAD_MAX_LAYER_FLOPS = 3e10
#: Resident memory of a worker before it loads a matrix (interpreter, numpy, scipy, netspectra).
WORKER_BASE_BYTES = 200 * 2**20
#: Peak bytes per entry of a conv stack's analysis: the decoded stack, each slice's float64 work and the
#: entry null's temporaries (measured: 13.4 on a 16 x 16 x 40 x 50 x 50 kernel, 25.6M entries).
STACK_BYTES_PER_ENTRY = 16
#: Environment variables read by BLAS and OpenMP runtimes when they load.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)

#: A layer's shape as (k, N, M): k matrices of N x M, N >= M.
Shape = tuple[int, int, int]


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _meminfo_available() -> int | None:
    """``MemAvailable`` from /proc/meminfo in bytes, or None where there is no such file."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _address_space_left() -> int | None:
    """Bytes of address space this process may still map under its limit (RLIMIT_AS, ``ulimit -v``):
    the limit less its current size (``VmSize``), or None without a limit or where either is unknown."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit == resource.RLIM_INFINITY:
            return None
        with open("/proc/self/status") as fh:
            size = next((int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:")), None)
    except (ImportError, OSError, ValueError):
        return None
    return None if size is None else max(0, limit - size)


def peak_rss_bytes() -> int | None:
    """Peak resident set size of this process, or of the largest worker process it has waited for, in bytes
    (``getrusage`` ``ru_maxrss``: kibibytes on Linux, bytes on macOS; the peak since the process started);
    None where the ``resource`` module is missing (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    unit = 1 if sys.platform == "darwin" else 1024
    own, children = (resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return max(own, children) * unit


def available_memory() -> int | None:
    """Bytes this process can still allocate: ``MemAvailable`` from /proc/meminfo, and no more than its
    address-space limit leaves (:func:`_address_space_left`); None where neither is known."""
    known = [n for n in (_meminfo_available(), _address_space_left()) if n is not None]
    return min(known) if known else None


def refuse_unless_fits(needed: int, what: str, error: type[Exception]) -> None:
    """Raise ``error`` ("``what`` needs about 6.7 GiB, 1.9 GiB available") when ``needed`` bytes exceed
    :func:`available_memory`; planned before anything of that size is allocated, as the conv planner
    (:func:`netspectra.pipeline.plan_memory`) does."""
    available = available_memory()
    if available is not None and needed > available:
        raise error(f"{what} needs about {byte_size(needed)}, {byte_size(available)} available")


def byte_size(count: int) -> str:
    """``count`` bytes for a person: ``6.7 GiB``, ``512.0 MiB``, ``10 bytes``."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def layer_flops(shape: Shape) -> float:
    """k (N M^2 + 4/3 M^3): Gram matrices plus their tridiagonalisation."""
    k, n, m = shape
    return k * (n * m * m + 4.0 * m**3 / 3.0)


def worker_peak_bytes(shape: Shape) -> int:
    """Peak memory of a worker analysing one layer: the decoded float32 and float64 copies (12 k N M bytes),
    the Gram matrix and solver workspace (16 M^2) and ``WORKER_BASE_BYTES``."""
    k, n, m = shape
    return 12 * k * n * m + 16 * m * m + WORKER_BASE_BYTES


def default_workers(shapes: Iterable[Shape], *, cpus: int | None = None, memory: int | None = None) -> int:
    """Worker processes for layers of these shapes, by the rule of this module.

    ``cpus`` defaults to :func:`cpu_count`, ``memory`` to :func:`available_memory` (no cap if unknown).
    """
    shapes = list(shapes)
    cpus = cpu_count() if cpus is None else cpus
    if not shapes or sum(layer_flops(s) for s in shapes) < PARALLEL_MIN_FLOPS:
        return 1
    workers = min(cpus, len(shapes))
    memory = available_memory() if memory is None else memory
    if memory:
        workers = min(workers, max(1, memory // max(worker_peak_bytes(s) for s in shapes)))
    return max(1, workers)


def local_threads(shapes: Iterable[Shape], *, cpus: int | None = None, memory: int | None = None) -> int:
    """Threads of this process that analyze layers side by side (:class:`.thread_pool.ThreadExecutor`).

    As many as CPUs, but no more than there are layers, none past the memory available at
    ``thread_peak_bytes`` of the largest layer each, and one (layers in turn, BLAS threads on each
    decomposition) when any layer is above ``THREAD_MAX_LAYER_FLOPS``: there the fits are a small share
    of the time, and a Ctrl-C would wait for the layers being decomposed.
    """
    shapes = list(shapes)
    if not shapes or max(layer_flops(s) for s in shapes) > THREAD_MAX_LAYER_FLOPS:
        return 1
    threads = min(cpu_count() if cpus is None else cpus, len(shapes))
    memory = available_memory() if memory is None else memory
    if memory:
        threads = min(threads, memory // max(thread_peak_bytes(s) for s in shapes))
    return max(1, threads)


def items_ahead(shapes: Iterable[Shape], threads: int, per_thread: int, *, memory: int | None = None) -> int:
    """How many items the thread executor may submit ahead of the one awaited: ``per_thread`` per thread,
    but no more finished results than fit in the memory available at :func:`thread_peak_bytes` of the
    largest layer each (a compress or merge result holds a matrix, not a row), and at least ``threads``."""
    shapes = list(shapes)
    ahead = threads * per_thread
    memory = available_memory() if memory is None else memory
    if memory and shapes:
        ahead = min(ahead, memory // max(thread_peak_bytes(s) for s in shapes))
    return max(threads, ahead)


def stack_peak_bytes(shape: Shape) -> int:
    """Peak memory of analysing a conv stack of k matrices N x M: k N M :data:`STACK_BYTES_PER_ENTRY`
    (the conv planner's bound, :func:`netspectra.pipeline.plan_memory`)."""
    k, n, m = shape
    return k * n * m * STACK_BYTES_PER_ENTRY


def thread_peak_bytes(shape: Shape) -> int:
    """Peak memory of one thread analysing a layer: :func:`worker_peak_bytes` without the interpreter."""
    return worker_peak_bytes(shape) - WORKER_BASE_BYTES


def threads_per_worker(workers: int, cpus: int | None = None) -> int:
    """BLAS threads for each of ``workers`` processes: CPUs // workers, at least 1."""
    return max(1, (cpu_count() if cpus is None else cpus) // workers)


def limit_threads(threads: int) -> None:
    """Cap BLAS/OpenMP threads in this process (a worker initializer).

    Libraries already loaded are capped through threadpoolctl (Varoquaux et al., BSD); those loaded later
    (torch) read the environment variables set here.
    """
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
