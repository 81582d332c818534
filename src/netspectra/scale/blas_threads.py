"""BLAS threads of an analysis: all of them for a decomposition, one for the fits that follow it.

The fits (power law, tail tests, HTMP, MP bulk, spacing) make thousands of small NumPy calls, many of
them BLAS products of a few hundred numbers.  With more than one BLAS thread every such call wakes the
other threads, which then spin waiting for the next one; on 2 cores that made the MiniLM analysis 2.4x
slower with the default threads than with one (measured, benchmarks/bench_vs_weightwatcher.py), while
the Gram matrices and eigendecompositions themselves gain from the threads.  :func:`one_blas_thread`
caps them for the fits only (threadpoolctl, Varoquaux et al., BSD; 10 us per switch).

The caps are process-wide, so the cap is shared: the first of nested or concurrent users (the layers
of :class:`netspectra.scale.thread_pool.ThreadExecutor`, which holds one for its whole run) sets it
and the last to leave restores the previous caps; a thread never changes them under another's BLAS call.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_holders = 0
_limiter: Any = None


@lru_cache(maxsize=1)
def _controller_of(modules: int) -> ThreadpoolController:
    return ThreadpoolController()


def _controller() -> ThreadpoolController:
    """The thread pools of the libraries loaded now: made again once Python modules have been imported
    since (SciPy brings an OpenBLAS of its own, which a controller made before it would not cap)."""
    return _controller_of(len(sys.modules))


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the body with BLAS/OpenMP capped at one thread, restoring the caps after the last holder leaves."""
    global _holders, _limiter
    with _lock:
        if _holders == 0:
            _limiter = _controller().limit(limits=1)
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                _limiter.restore_original_limits()
                _limiter = None
