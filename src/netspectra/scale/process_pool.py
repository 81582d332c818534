"""A pool of worker processes on this machine, results in input order, memory bounded by the pool size.

Workers are started with the ``spawn`` method (a fresh interpreter: safe with threads, BLAS and torch,
unlike ``fork``) and capped to ``threads`` BLAS/OpenMP threads each (:func:`.workers.limit_threads`), so
that workers x threads <= CPUs.  A worker ends as soon as this process does, however it ends
(:func:`_start_worker`).  At most ``workers x PREFETCH`` items are submitted ahead of the one
being yielded: each worker loads one matrix at a time, so peak memory is about workers x the largest
layer (:func:`.workers.worker_peak_bytes`), and finished results wait for their turn in this process.

Ctrl-C: workers are born with SIGINT blocked (:mod:`.sigint`), so a Ctrl-C sent to the whole
process group reaches only this process, which raises ``KeyboardInterrupt`` within :data:`.ordered.POLL_S`
(whichever of its threads the signal lands on: :func:`.ordered.await_result`) and, leaving the executor,
terminates the workers at once instead of waiting for the layers they are decomposing.  No worker
prints a traceback, whether it is starting, idle or busy.

Items and the function must pickle (the file loaders of :mod:`netspectra.io` do).  Code that starts a
pool must sit under ``if __name__ == "__main__":`` in a script, as for any ``spawn`` pool.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import wait as wait_ready
from multiprocessing.context import SpawnContext, SpawnProcess
from typing import Any, TypeVar

from netspectra.errors import ExecutorError
from netspectra.scale.ordered import ordered_map
from netspectra.scale.sigint import sigint_blocked
from netspectra.scale.workers import limit_threads, threads_per_worker

T = TypeVar("T")
R = TypeVar("R")

#: Items submitted ahead per worker (keeps workers busy while the head result is awaited).
PREFETCH = 2


def _exit_with_parent() -> None:
    """Wait for the process that started this worker to end, then end this worker at once."""
    wait_ready([multiprocessing.parent_process().sentinel])
    os._exit(1)


def _start_worker(threads: int) -> None:
    """Worker initializer: cap BLAS threads, and watch the parent.

    A worker whose parent is killed (SIGKILL, the OOM killer) would otherwise live on: its task queue
    never reports end-of-file, because every worker holds both ends of it, so it would finish its layer
    and then wait forever, holding its memory.  A daemon thread waits on the parent's sentinel (a pipe
    that closes when the parent dies) and ends the worker then.
    """
    limit_threads(threads)
    threading.Thread(target=_exit_with_parent, name="netspectra-parent-watch", daemon=True).start()


class _WorkerProcess(SpawnProcess):
    """A ``spawn`` process started with SIGINT blocked (:func:`.sigint.sigint_blocked`), so that the new
    interpreter inherits the blocked mask from its first instruction."""

    def start(self) -> None:
        with sigint_blocked():
            super().start()


class _WorkerContext(SpawnContext):
    """The ``spawn`` context of one pool: starts :class:`_WorkerProcess` and remembers them."""

    def __init__(self) -> None:
        super().__init__()
        self.processes: list[_WorkerProcess] = []

    def Process(self, *args: Any, **kwargs: Any) -> _WorkerProcess:  # noqa: N802 (multiprocessing's name)
        process = _WorkerProcess(*args, **kwargs)
        self.processes.append(process)
        return process


class ProcessExecutor:
    """``workers`` processes with ``threads`` BLAS threads each (default CPUs // workers); 1 worker runs inline."""

    def __init__(self, workers: int, threads: int | None = None) -> None:
        self.workers = workers
        self.threads = threads_per_worker(workers) if threads is None else threads
        self._pool: ProcessPoolExecutor | None = None
        self._context: _WorkerContext | None = None

    def __enter__(self) -> ProcessExecutor:
        if self.workers > 1:
            self._context = _WorkerContext()
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=self._context,
                initializer=_start_worker,
                initargs=(self.threads,),
            )
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        """Wait for the workers after a clean run; after an exception (Ctrl-C included), terminate them."""
        if self._pool is None:
            return
        pool, context = self._pool, self._context
        self._pool = self._context = None
        if exc_type is None:
            pool.shutdown(wait=True)
            return
        for process in context.processes:
            if process.pid is not None:  # started; terminate() skips one already reaped
                process.terminate()
        # The pool's manager thread sees its workers die and reaps them; joining them here as well
        # would race it for waitpid(), and the loser records no exit code for a dead process.
        pool.shutdown(wait=True, cancel_futures=True)

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        """Yield fn(item) for each item, in order."""
        if self._pool is None:
            yield from (fn(item) for item in items)
            return
        try:
            yield from ordered_map(self._pool, fn, items, ahead=self.workers * PREFETCH)
        except BrokenProcessPool:
            raise ExecutorError(self._death_message()) from None

    def _death_message(self) -> str:
        """Why the pool broke, from the exit codes of its workers: SIGKILL is the kernel's OOM killer's
        signal (fewer workers need less memory); another code is a crash, which fewer workers would not fix."""
        self._pool.shutdown(wait=True)  # the manager thread reaps every worker: exit codes are known after
        codes = {process.exitcode for process in self._context.processes if process.exitcode not in (None, 0)}
        codes = sorted(codes - {-signal.SIGTERM} or codes)  # once one dies, the pool terminates the others
        if -signal.SIGKILL in codes or not codes:
            return f"a worker process was killed (out of memory?): retry with fewer workers than {self.workers}"
        return f"a worker process died with exit code {', '.join(map(str, codes))}"
