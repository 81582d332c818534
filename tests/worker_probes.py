"""Functions run inside executor workers by the tests (a module of its own, so that spawned workers can
import it by name)."""

import logging

from threadpoolctl import threadpool_info


def blas_threads() -> list[dict]:
    """threadpoolctl's view of this process after NumPy (and its BLAS) is loaded, as an analysis would."""
    import numpy  # noqa: F401

    return threadpool_info()


def log_distributed_error(message: str) -> None:
    """Log ``message`` as Dask's worker does when a Ctrl-C's teardown closes the scheduler under its
    heartbeat ("Failed to communicate with scheduler during heartbeat.", at ERROR with a traceback)."""
    logging.getLogger("distributed.worker").error(message)
