"""BLAS threads of an analysis: all of them for a decomposition, one for the fits that follow it.

The fits (power law, tail tests, HTMP, MP bulk, spacing) make thousands of small NumPy calls, many of
them BLAS products of a few hundred numbers.  With more than one BLAS thread every such call wakes the
other threads, which then spin waiting for the next one; on 2 cores that made the MiniLM analysis 2.4x
slower with the default threads than with one (measured, benchmarks/bench_vs_weightwatcher.py), while
the Gram matrices and eigendecompositions themselves gain from the threads.  :func:`one_blas_thread`
caps them for the fits only (threadpoolctl, Varoquaux et al., BSD; 10 us per switch).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from threadpoolctl import ThreadpoolController


@lru_cache(maxsize=1)
def _controller() -> ThreadpoolController:
    """The thread pools of the libraries loaded now (NumPy's BLAS is, by the time an analysis runs)."""
    return ThreadpoolController()


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the body with BLAS/OpenMP capped at one thread, restoring the caps after."""
    with _controller().limit(limits=1):
        yield
