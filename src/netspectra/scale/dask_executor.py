"""Dask distributed executor: layers (of one model or of many) spread over a cluster, results in input order.

``DaskExecutor()`` starts a ``LocalCluster`` of ``workers`` processes with one task thread each (and
CPUs // workers BLAS threads); ``DaskExecutor(scheduler="tcp://host:8786")`` connects to a running
cluster (``dask scheduler`` / ``dask worker`` on each machine), whose workers must see the model files
at the same paths (a shared filesystem): tasks carry file loaders, not weights.  One task per layer;
with one thread per worker each worker holds one matrix at a time.  Needs ``pip install
'netspectra[distributed]'`` (Rocklin, "Dask: parallel computation with blocked algorithms and task
scheduling", SciPy 2015).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from netspectra.errors import ExecutorError, UsageError, one_line
from netspectra.scale.sigint import sigint_blocked
from netspectra.scale.workers import cpu_count, limit_threads, threads_per_worker

T = TypeVar("T")
R = TypeVar("R")


class DaskExecutor:
    """Runs tasks on a Dask cluster: a new local one, or the one at ``scheduler``.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler; None starts a LocalCluster (closed on exit).
    workers : int, optional
        Worker processes of the local cluster (default: CPUs).
    processes : bool
        Local workers as processes (default) or as threads of this process (fast to start; for tests).
    """

    def __init__(self, scheduler: str | None = None, workers: int | None = None, *, processes: bool = True) -> None:
        self.scheduler = scheduler
        self.workers = workers or cpu_count()
        self.processes = processes
        self._client: Any = None
        self._cluster: Any = None
        self._loop_log_level: int | None = None

    def __enter__(self) -> DaskExecutor:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise UsageError("the dask executor needs: pip install 'netspectra[distributed]'") from None
        # A Ctrl-C inside Client's sync() can make distributed's own cancel callback fail on the event loop
        # (NameError in distributed.utils.sync.cancel, a race of distributed 2026.8), which tornado logs
        # as a traceback after our one line; task errors reach us as exceptions of the futures instead.
        loop_log = logging.getLogger("tornado.application")
        self._loop_log_level = loop_log.level
        loop_log.setLevel(logging.CRITICAL)
        try:
            if self.scheduler is None:
                with sigint_blocked():  # the cluster's threads and workers inherit it: a Ctrl-C reaches us only
                    self._cluster = LocalCluster(
                        n_workers=self.workers,
                        threads_per_worker=1,
                        processes=self.processes,
                        dashboard_address=None,
                        # The scheduler serves /health on 8787 even without a dashboard, and warns on stderr
                        # when another cluster (another run) holds that port: a free port of this host.
                        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                        # A Ctrl-C or an error closes the cluster mid-work, and distributed logs what that
                        # does to it at ERROR, with tracebacks, here and in the worker processes (a worker's
                        # heartbeat that finds its connection to the scheduler closed, "Couldn't gather
                        # keys" for a future released while its result was on the way): the errors that
                        # matter reach us as exceptions of the futures and of the client instead.
                        silence_logs=logging.CRITICAL,
                    )
                self._client = Client(self._cluster)
                if self.processes:
                    self._client.run(limit_threads, threads_per_worker(self.workers))
            else:
                self._client = Client(self.scheduler, timeout=30)
        except (OSError, TimeoutError) as exc:
            self.__exit__()
            raise ExecutorError(f"cannot start or reach the dask cluster: {one_line(exc)}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
        if self._loop_log_level is not None:
            logging.getLogger("tornado.application").setLevel(self._loop_log_level)
            self._loop_log_level = None

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        """Submit one task per item (``pure=False``: never deduplicated), yield the results in order."""
        from distributed import KilledWorker

        futures = self._client.map(fn, list(items), pure=False)
        for index in range(len(futures)):
            future = futures[index]
            try:
                result = future.result()
            except KilledWorker as exc:
                raise ExecutorError(f"dask workers kept dying on a task (killed for memory?): {one_line(exc)}") from None
            # Let the cluster release it, here rather than in Future.__del__: a Ctrl-C that lands in a
            # destructor is printed as "Exception ignored" and swallowed, and releasing hands the key to
            # the event loop's thread (a switch of threads, where a pending Ctrl-C is acted on).
            future.release()
            futures[index] = future = None
            yield result
