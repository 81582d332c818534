"""Functions run inside executor workers by the tests (a module of its own, so that spawned workers can
import it by name)."""

from threadpoolctl import threadpool_info


def blas_threads() -> list[dict]:
    """threadpoolctl's view of this process after NumPy (and its BLAS) is loaded, as an analysis would."""
    import numpy  # noqa: F401

    return threadpool_info()
