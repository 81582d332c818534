"""Suite-wide settings: BLAS runs on one thread; the disk cache (HTMP tables) is the suite's own.

The test machine has 2 cores and is often shared; multithreaded OpenBLAS on small matrices then spends
most of its time spinning (a 256x256 eigendecomposition measured 0.45 s instead of 0.02 s). Tests check
numbers, not speed, so one thread is both faster and steadier.

``NETSPECTRA_CACHE_DIR`` points at a fresh directory for the whole session (command-line tests run in
subprocesses inherit it), so that the suite never reads or writes the user's cache; ``NETSPECTRA_KEY_FILE``
at a store key in it, so that the suite never creates or uses the user's (netspectra.store.seal).

Markers (declared in pyproject.toml, strict): every test under ``tests/hardening/`` and ``tests/round3/``
is marked ``hardening`` here, so that a new file there needs nothing; hostile-input and interruption tests
elsewhere, and tests that take more than a few seconds (``slow``), carry their marker themselves.

A suite started with SIGINT ignored (``nohup``, ``&`` in a script) would hand that to every child
process, and the Ctrl-C tests' children would never see their Ctrl-C: the suite takes SIGINT with
Python's handler instead, which ``exec`` resets to the default in each child.
"""

import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

_CACHE = tempfile.mkdtemp(prefix="netspectra-test-cache-")
os.environ["NETSPECTRA_CACHE_DIR"] = _CACHE
os.environ["NETSPECTRA_KEY_FILE"] = os.path.join(_CACHE, "store.key")

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

#: Folders of hostile-input and interruption tests only.
HARDENING_FOLDERS = [Path(__file__).parent / name for name in ("hardening", "round3")]


@pytest.hookimpl(tryfirst=True)  # before ``-m`` selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.path.is_relative_to(folder) for folder in HARDENING_FOLDERS):
            item.add_marker(pytest.mark.hardening)


@pytest.fixture(autouse=True, scope="session")
def _single_blas_thread():
    with threadpool_limits(limits=1):
        yield
    shutil.rmtree(_CACHE, ignore_errors=True)
