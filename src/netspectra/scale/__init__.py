"""Scale: executors for parallel and distributed analysis, tail-only analysis of very large layers, sweeps.

>>> from netspectra.scale import DaskExecutor, analyze_many            # doctest: +SKIP
>>> with DaskExecutor(scheduler="tcp://head:8786") as cluster:         # doctest: +SKIP
...     reports = analyze_many(["a.safetensors", "b.safetensors"], executor=cluster)
"""

from netspectra.scale.dask_executor import DaskExecutor
from netspectra.scale.executor import EXECUTORS, Executor, ExecutorError, LocalExecutor, executor_scope, make_executor
from netspectra.scale.process_pool import ProcessExecutor
from netspectra.scale.workers import default_workers

__all__ = [
    "EXECUTORS", "DaskExecutor", "Executor", "ExecutorError", "LocalExecutor", "ProcessExecutor",
    "analyze_many", "default_workers", "executor_scope", "make_executor",
]


def __getattr__(name: str):
    # analyze_many imports netspectra.analyze, which imports this package: load it on first use.
    if name == "analyze_many":
        from netspectra.scale.sweep import analyze_many

        return analyze_many
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
