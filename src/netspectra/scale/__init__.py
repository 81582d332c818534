"""Scale: executors that run one function over many items (layers), in order: this process, a pool of
worker processes, or a Dask cluster; and the rule that sizes them.

>>> from netspectra import analyze_many
>>> from netspectra.scale import DaskExecutor                          # doctest: +SKIP
>>> with DaskExecutor(scheduler="tcp://head:8786") as cluster:         # doctest: +SKIP
...     reports = analyze_many(["a.safetensors", "b.safetensors"], executor=cluster)
"""

from netspectra.errors import ExecutorError
from netspectra.scale.dask_executor import DaskExecutor
from netspectra.scale.executor import EXECUTORS, Executor, LocalExecutor, executor_scope, make_executor
from netspectra.scale.process_pool import ProcessExecutor
from netspectra.scale.workers import default_workers

__all__ = [
    "EXECUTORS", "DaskExecutor", "Executor", "ExecutorError", "LocalExecutor", "ProcessExecutor",
    "default_workers", "executor_scope", "make_executor",
]
