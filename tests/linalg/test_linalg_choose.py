"""The one backend chooser and its options."""

import pytest

from netspectra.errors import UsageError
from netspectra.linalg import SpectrumOptions, choose_backend
from netspectra.linalg import choose as choose_module


@pytest.fixture()
def no_gpu(monkeypatch):
    monkeypatch.setattr(choose_module, "cuda_available", lambda: False)


def test_auto_full_spectrum_is_dense_without_gpu(no_gpu):
    assert choose_backend(4096, 4096, SpectrumOptions()) == "dense"


def test_auto_uses_torch_on_gpu_for_large_layers_only(monkeypatch):
    monkeypatch.setattr(choose_module, "cuda_available", lambda: True)
    assert choose_backend(4096, 1024, SpectrumOptions()) == "torch"
    assert choose_backend(4096, 512, SpectrumOptions()) == "dense"


def test_auto_tail_only_uses_lanczos_when_it_pays(no_gpu):
    # c k 4 N M <= N M^2 + 4/3 M^3 with c = 16
    assert choose_backend(4096, 4096, SpectrumOptions(tail_only=8)) == "lanczos"
    # memory-bound products: a float32 decomposition refined in float64 wins
    assert choose_backend(4096, 4096, SpectrumOptions(tail_only=64)) == "refined"
    assert choose_backend(11008, 4096, SpectrumOptions(tail_only=64)) == "refined"
    assert choose_backend(128256, 16384, SpectrumOptions(tail_only=64)) == "lanczos"
    assert choose_backend(4096, 4096, SpectrumOptions(tail_only=298)) == "refined"  # 32 K N <= N M + 4 M^2 / 3
    assert choose_backend(4096, 4096, SpectrumOptions(tail_only=299)) == "dense"  # the refinement would cost too much
    assert choose_backend(11008, 4096, SpectrumOptions(tail_only=256)) == "dense"
    assert choose_backend(3000, 1200, SpectrumOptions(tail_only=64)) == "dense"
    assert choose_backend(4096, 4096, SpectrumOptions(backend="dense", tail_only=64)) == "dense"  # the way to turn it off
    assert choose_backend(2000, 500, SpectrumOptions(tail_only=4)) == "dense"  # M below LANCZOS_MIN_DIM and REFINED_MIN_DIM


def test_explicit_backends_are_kept(no_gpu):
    assert choose_backend(100, 50, SpectrumOptions(backend="torch")) == "torch"
    assert choose_backend(100, 50, SpectrumOptions(backend="lanczos", tail_only=10)) == "lanczos"
    assert choose_backend(100, 50, SpectrumOptions(backend="dense", tail_only=10)) == "dense"


@pytest.mark.parametrize("kwargs", [dict(backend="magma"), dict(backend="lanczos"), dict(tail_only=1), dict(tail_only=2.5)])
def test_invalid_options(kwargs):
    with pytest.raises(UsageError):
        SpectrumOptions(**kwargs)
