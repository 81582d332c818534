"""SpectraTracker on a live module, its store records, and the Trainer/Lightning adapters (faked)."""

import sys
import types

import pandas as pd
import pytest
import torch
from torch import nn

import netspectra.compare.callbacks as callbacks
from netspectra.compare.track import SpectraTracker, trajectory_from_store
from netspectra.store import Store


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(32, 96), nn.ReLU(), nn.Linear(96, 64))


def test_records_every_k_steps_once(tmp_path):
    model = _mlp()
    tracker = SpectraTracker(model, every=5)
    recorded = [s for s in range(13) if tracker.step(s)]
    assert recorded == [0, 5, 10]
    assert tracker.step(10) == ()  # the same step twice (gradient accumulation) records once
    frame = tracker.trajectory.to_frame()
    assert tracker.trajectory.steps == [0, 5, 10] and len(frame) == 6
    assert list(frame[frame.step == 0].layer) == ["0.weight", "2.weight"]
    with pytest.raises(ValueError, match="every must be a positive integer"):
        SpectraTracker(model, every=0)


def test_tracker_sees_training_and_writes_the_store(tmp_path):
    model = _mlp()
    store = Store(tmp_path / "s.db")
    tracker = SpectraTracker(model, every=2, store=store, label="run-a")
    tracker.step(0)
    with torch.no_grad():
        model[0].weight.add_(3.0 * torch.outer(torch.ones(96), torch.ones(32)) / 32)  # a planted spike
    tracker.step(2)
    frame = tracker.trajectory.to_frame().set_index(["step", "layer"])
    assert frame.loc[(2, "0.weight"), "num_spikes"] > frame.loc[(0, "0.weight"), "num_spikes"]
    assert frame.loc[(2, "0.weight"), "tail_weight"] > frame.loc[(0, "0.weight"), "tail_weight"]
    runs = store.list_runs()
    assert [(r.step, r.label, r.status, r.num_layers) for r in runs] == [(0, "run-a", "complete", 2), (2, "run-a", "complete", 2)]
    pd.testing.assert_frame_equal(trajectory_from_store(store, "run-a").to_frame(), tracker.trajectory.to_frame())
    assert trajectory_from_store(store, "other").points == ()


def _fake_module(monkeypatch, name, attribute):
    module = types.ModuleType(name)
    base = type(attribute, (), {})
    setattr(module, attribute, base)
    monkeypatch.setitem(sys.modules, name, module)
    return base


def test_hugging_face_adapter_with_a_fake_transformers(monkeypatch):
    base = _fake_module(monkeypatch, "transformers", "TrainerCallback")
    callback = callbacks.HFSpectraCallback(every=3)
    assert isinstance(callback, base)
    model = _mlp()
    state = types.SimpleNamespace(global_step=0, is_world_process_zero=True)
    callback.on_train_begin(None, state, None, model=model)
    for step in range(1, 8):
        state.global_step = step
        callback.on_step_end(None, state, None, model=model)
    assert callback.tracker.trajectory.steps == [0, 3, 6]
    other = callbacks.HFSpectraCallback(every=1)
    other.on_step_end(None, types.SimpleNamespace(global_step=1, is_world_process_zero=False), None, model=model)
    assert other.tracker is None  # only the main process records


def test_lightning_adapter_with_a_fake_lightning(monkeypatch):
    monkeypatch.setitem(sys.modules, "lightning", None)  # only pytorch_lightning "installed"
    monkeypatch.setitem(sys.modules, "lightning.pytorch", None)
    base = _fake_module(monkeypatch, "pytorch_lightning", "Callback")
    callback = callbacks.LightningSpectraCallback(every=2)
    assert isinstance(callback, base)
    model = _mlp()
    trainer = types.SimpleNamespace(global_step=0, is_global_zero=True)
    callback.on_train_start(trainer, model)
    for batch_idx in range(6):  # two micro-batches per optimizer step
        trainer.global_step = batch_idx // 2
        callback.on_train_batch_end(trainer, model, None, None, batch_idx)
    assert callback.tracker.trajectory.steps == [0, 2]


def test_adapters_need_their_framework(monkeypatch):
    for name in ("transformers", "lightning", "lightning.pytorch", "pytorch_lightning"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match="pip install transformers"):
        from netspectra.compare.callbacks import HFSpectraCallback  # noqa: F401
    with pytest.raises(ImportError, match="needs lightning or pytorch_lightning"):
        _ = callbacks.LightningSpectraCallback
    with pytest.raises(AttributeError):
        _ = callbacks.KerasSpectraCallback
