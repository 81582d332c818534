"""Executors: run one function over many items, results in input order.

``local`` runs in this process; ``process`` in a pool of worker processes on this machine
(:mod:`.process_pool`); ``dask`` on a Dask distributed cluster (:mod:`.dask_executor`).  All three
preserve order, so a parallel run's report is row for row the serial one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from netspectra.errors import UsageError
from netspectra.scale.thread_pool import PREFETCH, ThreadExecutor
from netspectra.scale.workers import Shape, default_workers, items_ahead, local_threads

T = TypeVar("T")
R = TypeVar("R")

#: Names accepted where an executor is asked for by name.
EXECUTORS = ("local", "process", "dask")


class Executor(Protocol):
    """Maps a function over items, yielding the results in input order; used as a context manager."""

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]: ...


class LocalExecutor:
    """Runs everything in this process, one item at a time."""

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        return (fn(item) for item in items)


def make_executor(
    kind: str,
    *,
    workers: int | None = None,
    shapes: Sequence[Shape] = (),
    scheduler: str | None = None,
    prefetch: int = PREFETCH,
) -> Executor:
    """An executor by name: ``local``, ``process`` or ``dask`` (``scheduler`` address, or a local cluster of
    ``workers`` processes).

    ``local`` runs the layers in this process, side by side in threads when :func:`local_threads` of
    ``shapes`` allows more than one.  ``process`` without ``workers`` does the same when threads are
    allowed (measured on MPNet-base: 3.3-3.5 s in threads, 3.5-3.6 s in two worker processes, which each
    start an interpreter), and otherwise starts :func:`default_workers` processes (one: in this process).
    """
    if kind not in EXECUTORS:
        raise UsageError(f"unknown executor {kind!r}: choose one of {', '.join(EXECUTORS)}")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise UsageError(f"workers must be a positive integer, got {workers!r}")
    if scheduler is not None and kind != "dask":
        raise UsageError("a scheduler address needs the dask executor")
    if kind == "local":
        if workers not in (None, 1):
            raise UsageError(f"{workers} workers need the process or dask executor, not local")
        return _in_this_process(shapes, prefetch)
    if kind == "process":
        if workers is None:  # threads where they serve (no interpreter to start), else the sizing rule's pool
            if local_threads(shapes) > 1 or (workers := default_workers(shapes)) == 1:
                return _in_this_process(shapes, prefetch)
        from netspectra.scale.process_pool import ProcessExecutor  # multiprocessing: only for a pool

        return ProcessExecutor(workers)
    from netspectra.scale.dask_executor import DaskExecutor

    return DaskExecutor(scheduler=scheduler, workers=workers)


def _in_this_process(shapes: Sequence[Shape], prefetch: int) -> Executor:
    """Layers in this process: side by side in threads (:func:`local_threads`), ``prefetch`` items per thread
    submitted ahead (within :func:`items_ahead`), or one after the other."""
    threads = local_threads(shapes)
    if threads == 1:
        return LocalExecutor()
    return ThreadExecutor(threads, items_ahead(shapes, threads, prefetch))


@contextmanager
def executor_scope(
    executor: str | Executor | None, *, workers: int | None = None, shapes: Sequence[Shape] = (), prefetch: int = PREFETCH
) -> Iterator[Executor]:
    """An open executor: one made by name (None: ``local``; ``prefetch`` items per thread submitted ahead) and
    closed on exit, or the caller's own, used as it is."""
    if executor is None:
        executor = "local"
    if not isinstance(executor, str):
        if workers is not None:
            raise UsageError("give workers to the executor object, not alongside it")
        yield executor
        return
    with make_executor(executor, workers=workers, shapes=shapes, prefetch=prefetch) as made:
        yield made


def shapes_of(weights: Sequence[Any]) -> list[Shape]:
    """(k, N, M) of each :class:`~netspectra.io.WeightMatrix`."""
    return [(w.num_matrices, *w.matrix_shape) for w in weights]
