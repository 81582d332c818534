"""The thread executor: order, one BLAS thread while open (restored after), errors, and the analysis of the
serial run; the shared one-thread BLAS cap; which executor a model gets by default."""

import operator
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from fixtures_models import write_safetensors
from netspectra import analyze
from netspectra.errors import UsageError
from netspectra.scale import LocalExecutor, ProcessExecutor, make_executor
from netspectra.scale import executor as executor_module
from netspectra.scale import workers as workers_module
from netspectra.scale.blas_threads import one_blas_thread
from netspectra.scale.thread_pool import ThreadExecutor


def blas_caps():
    return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_results_come_in_order_from_the_threads():
    with ThreadExecutor(2) as pool:
        out = list(pool.map(lambda i: (i, threading.current_thread().name), range(40)))
    assert [i for i, _ in out] == list(range(40))
    assert all(name.startswith("netspectra-layer") for _, name in out)


def test_blas_runs_on_one_thread_while_open_and_the_caps_come_back():
    with threadpool_limits(2):
        before = blas_caps()
        with ThreadExecutor(2) as pool:
            inside = list(pool.map(lambda _: blas_caps(), range(4)))
        assert blas_caps() == before
    assert all(set(caps.values()) == {1} for caps in inside)


def test_nested_and_concurrent_caps_restore_only_when_the_last_leaves():
    with threadpool_limits(2):
        before = blas_caps()
        with one_blas_thread():
            with one_blas_thread():
                assert set(blas_caps().values()) == {1}
            assert set(blas_caps().values()) == {1}  # the outer holder still runs on one thread
        assert blas_caps() == before


def test_an_error_reaches_the_caller_and_the_queue_is_dropped():
    ran = []

    def task(i):
        ran.append(i)
        if i == 0:
            raise ValueError("layer 0")
        return i

    with pytest.raises(ValueError, match="layer 0"), ThreadExecutor(2) as pool:
        list(pool.map(task, range(1000)))
    assert len(ran) < 1000


def test_map_needs_the_executor_open():
    with pytest.raises(UsageError, match="with-block"):
        ThreadExecutor(2).map(operator.neg, [1])


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    rng = np.random.default_rng(5)
    tensors = {f"blocks.{i}.fc.weight": (rng.standard_t(3, (300, 150)) * 0.1).astype(np.float32) for i in range(5)}
    tensors["blocks.5.bad.weight"] = np.full((40, 20), np.inf, np.float32)
    return write_safetensors(tmp_path_factory.mktemp("threads") / "model.safetensors", tensors)


def test_threaded_analysis_equals_the_serial_run_at_one_blas_thread(model):
    with threadpool_limits(1):
        serial = analyze(model, executor=LocalExecutor())
    with ThreadExecutor(2) as pool:
        threaded = analyze(model, executor=pool)
    assert threaded.to_frame().equals(serial.to_frame())
    assert all(np.array_equal(a.eigenvalues, b.eigenvalues) for a, b in zip(threaded.layers[:5], serial.layers[:5]))
    assert threaded.layers[5].status == "error"


def test_default_executors_of_a_small_model(monkeypatch):
    small = [(1, 300, 150)] * 6
    monkeypatch.setattr(executor_module, "local_threads", lambda shapes: 2)
    assert isinstance(make_executor("local", shapes=small), ThreadExecutor)
    assert isinstance(make_executor("process", shapes=small), ThreadExecutor)  # too small for worker processes
    assert isinstance(make_executor("process", workers=1, shapes=small), ProcessExecutor)  # asked for: inline
    monkeypatch.setattr(executor_module, "local_threads", lambda shapes: 1)
    assert isinstance(make_executor("local", shapes=small), LocalExecutor)
    assert isinstance(make_executor("process", shapes=small), LocalExecutor)


def test_large_layers_go_to_worker_processes_small_ones_of_a_large_model_to_threads(monkeypatch):
    monkeypatch.setattr(workers_module, "cpu_count", lambda: 2)
    mpnet_like = [(1, 30527, 768)] + [(1, 3072, 768)] * 24 + [(1, 768, 768)] * 49
    assert isinstance(make_executor("process", shapes=mpnet_like), ThreadExecutor)
    llama_like = [(1, 11008, 4096)] * 3 + [(1, 4096, 4096)] * 4
    made = make_executor("process", shapes=llama_like)
    assert isinstance(made, ProcessExecutor) and made.workers == 2
