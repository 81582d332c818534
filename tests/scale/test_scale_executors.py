"""Executors: order, BLAS threads, errors, and results equal to the serial run (process pool, Dask, CLI).

LAPACK's syevd gives bitwise-identical eigenvalues only at equal BLAS thread counts, so each serial
reference runs with the workers' thread count (threads_per_worker(2)).
"""

import functools
import json
import operator
import os
import signal
import socket
import time
import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from fixtures_models import write_safetensors
from netspectra import analyze, analyze_many
from netspectra.cli import main
from netspectra.errors import UsageError
from netspectra.linalg import SpectrumOptions
from netspectra.scale import DaskExecutor, ExecutorError, ProcessExecutor, make_executor
from netspectra.scale.workers import threads_per_worker
from worker_probes import blas_threads, log_distributed_error

THREADS = threads_per_worker(2)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    rng = np.random.default_rng(0)
    tensors = {}
    for i in range(6):
        w = rng.standard_normal((240, 120)) * (1.0 + 12.0 * (rng.random((240, 120)) < 0.02))
        tensors[f"blocks.{i}.fc.weight"] = w.astype(np.float32)
    tensors["blocks.6.bad.weight"] = np.full((40, 20), np.nan, np.float32)
    return write_safetensors(tmp_path_factory.mktemp("scale") / "model.safetensors", tensors)


@pytest.fixture(scope="module")
def serial(model):
    with threadpool_limits(THREADS):
        return analyze(model)


def same(a, b):
    assert a.source == b.source
    assert a.to_frame().equals(b.to_frame())
    for x, y in zip(a.layers, b.layers, strict=True):
        assert (x.eigenvalues is None and y.eigenvalues is None) or np.array_equal(x.eigenvalues, y.eigenvalues)


def test_process_pool_keeps_order_and_caps_blas_threads():
    with ProcessExecutor(2) as pool:
        assert list(pool.map(operator.neg, range(25))) == [-i for i in range(25)]
        (info,) = pool.map(operator.call, [blas_threads])  # runs in a worker
    blas = [lib for lib in info if lib["user_api"] == "blas"]
    assert blas and all(lib["num_threads"] == THREADS for lib in blas)


def test_one_worker_runs_in_this_process():
    with ProcessExecutor(1) as pool:
        assert list(pool.map(operator.call, [os.getpid])) == [os.getpid()]


def test_errors_in_workers_reach_the_caller():
    with ProcessExecutor(2) as pool, pytest.raises(UsageError, match="SpectrumOptions.backend = .bogus.: must be one of"):
        list(pool.map(SpectrumOptions, ["dense", "bogus"]))


@pytest.mark.slow
def test_a_dead_worker_is_an_executor_error():
    busy_then_dead = [functools.partial(time.sleep, 3), functools.partial(os._exit, 3)]
    with ProcessExecutor(2) as pool, pytest.raises(ExecutorError, match="^a worker process died with exit code 3$"):
        list(pool.map(operator.call, busy_then_dead))  # the other worker, terminated by the pool, is no cause


def test_a_worker_killed_as_for_memory_suggests_fewer_workers():
    with ProcessExecutor(2) as pool, pytest.raises(ExecutorError, match="killed .out of memory.*fewer workers than 2"):
        list(pool.map(signal.raise_signal, [signal.SIGKILL]))  # what the kernel's OOM killer sends


def test_process_pool_analysis_equals_the_serial_run(model, serial):
    same(analyze(model, executor="process", workers=2), serial)


def test_dask_in_process_cluster_equals_the_serial_run(model, serial):
    with threadpool_limits(THREADS), DaskExecutor(workers=2, processes=False) as cluster:
        same(analyze(model, executor=cluster), serial)


@pytest.mark.slow
def test_sweep_over_models_on_a_dask_process_cluster(model, serial, tmp_path):
    other = tmp_path / "other.safetensors"
    other.write_bytes(model.read_bytes())
    with DaskExecutor(workers=2) as cluster:
        reports = analyze_many([model, other], executor=cluster)
    same(reports[0], serial)
    assert reports[1].source == str(other)
    assert reports[1].to_frame().equals(serial.to_frame())


def test_a_local_dask_cluster_keeps_stderr_clean(capfd):
    """What distributed logs in the workers at ERROR (a heartbeat that finds the scheduler closed, as the
    teardown after a Ctrl-C does) and the scheduler's warning when another cluster holds port 8787 stay
    off stderr: a command line's stderr is its one line or nothing."""
    with socket.socket() as held, warnings.catch_warnings(record=True) as caught:
        try:
            held.bind(("127.0.0.1", 8787))
            held.listen()
        except OSError:
            pass  # another cluster holds it already
        warnings.simplefilter("always")
        with DaskExecutor(workers=1) as cluster:
            assert list(cluster.map(log_distributed_error, ["heartbeat to a closed scheduler"])) == [None]
    assert [str(w.message) for w in caught if "8787" in str(w.message)] == []
    assert "heartbeat to a closed scheduler" not in capfd.readouterr().err


def test_sweep_on_the_process_pool_counts_progress_over_all_models(model, serial):
    calls = []
    reports = analyze_many([model, model], executor="process", workers=2, progress=lambda *a: calls.append(a))
    for report in reports:
        same(report, serial)
    assert [c[0] for c in calls] == list(range(1, 15)) and calls[-1][1] == 14


@pytest.mark.parametrize(
    "kind, kwargs",
    [("threads", {}), ("local", dict(workers=2)), ("process", dict(workers=0)), ("process", dict(scheduler="tcp://x:1"))],
)
def test_invalid_executor_requests(kind, kwargs):
    with pytest.raises(UsageError):
        make_executor(kind, **kwargs)


def _without_cost(output: str) -> dict:
    """The JSON of an analysis less its measured wall time and peak memory (of the run, not of the weights)."""
    document = json.loads(output)
    document["summary"] = {k: v for k, v in document["summary"].items() if k not in ("wall_seconds", "peak_rss_mib")}
    return document


def test_cli_parallel_run_prints_the_serial_json(model, capsys):
    with threadpool_limits(THREADS):
        assert main(["analyze", str(model), "--json", "--executor", "local"]) == 0
    local = capsys.readouterr().out
    assert main(["analyze", str(model), "--json", "--workers", "2"]) == 0
    assert _without_cost(capsys.readouterr().out) == _without_cost(local)


def test_cli_tail_only_and_its_conflicts(model, capsys):
    assert main(["analyze", str(model), "--json", "--tail-only", "40", "--backend", "lanczos"]) == 0
    layers = json.loads(capsys.readouterr().out)["layers"]
    assert all("tail-only: top" in row["warning"] for row in layers[:6])
    assert all(row["sigma2_mp"] is None and row["alpha"] is not None for row in layers[:6])
    assert main(["analyze", str(model), "--quiet", "--scheduler", "tcp://127.0.0.1:1", "--executor", "process"]) == 2
    assert "--scheduler needs" in capsys.readouterr().err
