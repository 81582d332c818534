"""Scale: executors that run one function over many items (layers), in order: this process (small layers
side by side in threads), a pool of worker processes, or a Dask cluster; and the rules that size them.

>>> from netspectra import analyze_many
>>> from netspectra.scale import DaskExecutor                          # doctest: +SKIP
>>> with DaskExecutor(scheduler="tcp://head:8786") as cluster:         # doctest: +SKIP
...     reports = analyze_many(["a.safetensors", "b.safetensors"], executor=cluster)
"""

from netspectra._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "netspectra.errors": ("ExecutorError",),
        "netspectra.scale.dask_executor": ("DaskExecutor",),
        "netspectra.scale.executor": ("EXECUTORS", "Executor", "LocalExecutor", "executor_scope", "make_executor"),
        "netspectra.scale.process_pool": ("ProcessExecutor",),
        "netspectra.scale.thread_pool": ("ThreadExecutor",),
        "netspectra.scale.workers": ("default_workers",),
    },
)
