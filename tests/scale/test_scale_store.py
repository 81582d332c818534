"""The results store fed by an executor: a process pool or a Dask cluster analyzes, this process commits.

Rows read back from the store must equal the serial store's bit for bit (at equal BLAS thread counts);
a tail-only run is a run of its own, never served for a full one; a resumed run analyzes only what
is missing, on the pool.
"""

import json

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from fixtures_models import write_safetensors
from netspectra import analyze
from netspectra.cli import main
from netspectra.scale import DaskExecutor
from netspectra.scale.workers import threads_per_worker
from netspectra.store import analyze_into_store

THREADS = threads_per_worker(2)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    rng = np.random.default_rng(3)
    tensors = {f"blocks.{i}.fc.weight": rng.standard_t(3.0, size=(200, 100)).astype(np.float32) for i in range(6)}
    return write_safetensors(tmp_path_factory.mktemp("scale_store") / "model.safetensors", tensors)


@pytest.fixture(scope="module")
def serial_store(model, tmp_path_factory):
    with threadpool_limits(THREADS):
        return analyze_into_store(model, tmp_path_factory.mktemp("serial") / "serial.db")


def _same_rows(a, b):
    assert a.to_frame().equals(b.to_frame())
    for x, y in zip(a.layers, b.layers, strict=True):
        assert np.array_equal(x.eigenvalues, y.eigenvalues)


def test_process_pool_writes_the_serial_rows(model, serial_store, tmp_path):
    pooled = analyze_into_store(model, tmp_path / "pool.db", executor="process", workers=2)
    assert pooled.status == "computed" and pooled.num_computed == 6
    _same_rows(pooled.report, serial_store.report)


def test_dask_cluster_writes_the_serial_rows(model, serial_store, tmp_path):
    with threadpool_limits(THREADS), DaskExecutor(workers=2, processes=False) as cluster:
        result = analyze_into_store(model, tmp_path / "dask.db", executor=cluster)
    _same_rows(result.report, serial_store.report)


def test_resume_on_the_pool_analyzes_only_the_missing_layers(model, serial_store, tmp_path):
    db = tmp_path / "partial.db"

    def interrupt_after_three(done, total, name):
        if done == 3:
            raise KeyboardInterrupt

    with threadpool_limits(THREADS), pytest.raises(KeyboardInterrupt):
        analyze_into_store(model, db, progress=interrupt_after_three)
    calls = []
    resumed = analyze_into_store(model, db, resume=True, executor="process", workers=2, progress=lambda *a: calls.append(a))
    assert resumed.status == "resumed" and resumed.num_computed == 3
    assert [c[0] for c in calls] == [4, 5, 6]
    _same_rows(resumed.report, serial_store.report)


def test_tail_only_is_a_run_of_its_own(model, tmp_path):
    db = tmp_path / "tail.db"
    tail = analyze_into_store(model, db, tail_only=20)
    assert tail.status == "computed"
    assert tail.report.to_frame().equals(analyze(model, tail_only=20).to_frame())
    assert all("tail-only: top" in layer.warning for layer in tail.report.layers)
    full = analyze_into_store(model, db)
    assert full.status == "computed" and full.run_id != tail.run_id  # not served the tail-only rows
    again = analyze_into_store(model, db, tail_only=20)
    assert again.status == "cached" and again.run_id == tail.run_id


def test_cli_store_with_workers_equals_the_serial_store(model, serial_store, tmp_path, capsys):
    out = tmp_path / "layers.json"
    assert main(["analyze", str(model), "--quiet", "--store", str(tmp_path / "cli.db"), "--workers", "2", "-o", str(out)]) == 0
    rows = json.loads(out.read_text())["layers"]
    assert [row["alpha"] for row in rows] == [layer.alpha for layer in serial_store.report.layers]
