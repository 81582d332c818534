"""Fixtures of the merge tests: one BLAS thread, the digits testbed, and small model directories."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:  # for ``import merge_testbed``
    sys.path.insert(0, _HERE)


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small SVDs run much faster on one BLAS thread (a busy 2-core machine thrashes with more)."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="session")
def digits(tmp_path_factory):
    """The digits testbed (see merge_testbed.py), written as three 2-shard model directories."""
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    from merge_testbed import build_digits_tasks, write_model

    with threadpool_limits(1):
        tasks = build_digits_tasks(seed=0)
    root = tmp_path_factory.mktemp("digits")
    config = {"model_type": "digits-mlp"}
    write_model(root / "base", tasks.base, n_shards=2, config=config)
    for name, weights in tasks.finetuned.items():
        write_model(root / name, weights, n_shards=2, config=config)
    return tasks, root
