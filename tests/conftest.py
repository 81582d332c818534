"""Suite-wide settings: BLAS runs on one thread.

The test machine has 2 cores and is often shared; multithreaded OpenBLAS on small matrices then spends
most of its time spinning (a 256x256 eigendecomposition measured 0.45 s instead of 0.02 s). Tests check
numbers, not speed, so one thread is both faster and steadier.
"""

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def _single_blas_thread():
    with threadpool_limits(limits=1):
        yield
