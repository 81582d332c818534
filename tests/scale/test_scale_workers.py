"""The worker-sizing rule."""

import os

import pytest

from netspectra.scale.workers import (
    PARALLEL_MIN_FLOPS,
    THREAD_MAX_LAYER_FLOPS,
    WORKER_BASE_BYTES,
    available_memory,
    default_workers,
    layer_flops,
    local_threads,
    thread_peak_bytes,
    threads_per_worker,
    worker_peak_bytes,
)


def test_small_models_run_in_one_process():
    minilm_like = [(1, 1536, 384)] * 12 + [(1, 384, 384)] * 24
    assert sum(layer_flops(s) for s in minilm_like) < PARALLEL_MIN_FLOPS
    assert default_workers(minilm_like, cpus=8) == 1
    assert default_workers([], cpus=8) == 1


def test_large_models_use_every_cpu_but_no_more_than_layers():
    big = [(1, 11008, 4096)] * 3
    assert default_workers(big, cpus=2, memory=2**40) == 2
    assert default_workers(big, cpus=16, memory=2**40) == 3


def test_memory_caps_the_workers():
    big = [(1, 11008, 4096)] * 32
    per_worker = worker_peak_bytes((1, 11008, 4096))
    assert per_worker > 12 * 11008 * 4096
    assert default_workers(big, cpus=16, memory=3 * per_worker + 1) == 3
    assert default_workers(big, cpus=16, memory=per_worker // 2) == 1


def test_threads_per_worker_keeps_the_product_within_the_cpus():
    assert threads_per_worker(2, cpus=2) == 1
    assert threads_per_worker(3, cpus=16) == 5
    assert threads_per_worker(1, cpus=8) == 8
    assert threads_per_worker(32, cpus=8) == 1


def test_small_layers_run_side_by_side_in_threads():
    minilm_like = [(1, 30522, 384)] + [(1, 1536, 384)] * 12 + [(1, 384, 384)] * 24
    assert local_threads(minilm_like, cpus=2, memory=2**34) == 2
    assert local_threads(minilm_like, cpus=8, memory=2**34) == 8
    assert local_threads(minilm_like[:3], cpus=8, memory=2**34) == 3
    assert local_threads(minilm_like, cpus=1, memory=2**34) == 1
    assert local_threads([], cpus=8) == 1


def test_a_layer_of_more_than_a_second_runs_alone_with_every_blas_thread():
    llama_mlp = (1, 11008, 4096)
    assert layer_flops(llama_mlp) > THREAD_MAX_LAYER_FLOPS
    assert local_threads([(1, 384, 384)] * 10 + [llama_mlp], cpus=8, memory=2**40) == 1


def test_memory_caps_the_threads():
    shapes = [(1, 30522, 384)] * 4
    per_thread = thread_peak_bytes(shapes[0])
    assert per_thread == worker_peak_bytes(shapes[0]) - WORKER_BASE_BYTES
    assert local_threads(shapes, cpus=8, memory=2 * per_thread + 1) == 2
    assert local_threads(shapes, cpus=8, memory=per_thread // 2) == 1


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmSize from /proc")
def test_available_memory_is_bounded_by_the_address_space_limit():
    """Under ``ulimit -v`` (RLIMIT_AS) a process cannot allocate what MemAvailable shows: the plans
    (conv stacks, LoRA updates, GGUF metadata) see what the limit leaves."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as fh:
        size = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    limit = size + (512 << 20)
    if hard != resource.RLIM_INFINITY and limit > hard:
        pytest.skip("the hard limit is below the test's")
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        available = available_memory()
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    assert available is not None and available <= 512 << 20
