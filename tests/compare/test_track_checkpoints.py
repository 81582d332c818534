"""Tracking a series of checkpoints: discovery and order, the tracked quantities, CSV, plots, store."""

import json

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import save_file

from netspectra.cli import main
from netspectra.compare.checkpoints import find_checkpoints, step_of
from netspectra.compare.dynamics import TrackPoint, track_point
from netspectra.compare.track import track_checkpoints
from netspectra.errors import UsageError
from netspectra.pipeline import analyze
from netspectra.rmt.spacing import GOE_MEAN_RATIO
from netspectra.store import Store


@pytest.mark.parametrize(
    "name, step",
    [
        ("step_100.safetensors", 100),
        ("checkpoint-200", 200),
        ("model.ckpt-300", 300),
        ("model_400.pt", 400),
        ("epoch_3_step_1200.pt", 1200),
        ("epoch7.bin", 7),
        ("global_step5", 5),
        ("final.safetensors", None),
    ],
)
def test_step_of(name, step):
    assert step_of(name) == step


def _write(path, seed, spike=0.0):
    """Two layers: Gaussian (MP) plus ``spike`` times a rank-2 signal."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for name in ("enc.weight", "dec.weight"):
        w = rng.standard_normal((192, 96))
        w += spike * np.sqrt(192) * rng.standard_normal((192, 2)) @ rng.standard_normal((2, 96)) / np.sqrt(96)
        tensors[name] = w.astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path))
    return path


def test_files_are_ordered_by_step_and_natural_sort_is_the_fallback(tmp_path):
    paths = [_write(tmp_path / f"step_{s}.safetensors", s) for s in (100, 20, 3)]
    assert [(c.step, c.path.name) for c in find_checkpoints(paths)] == [
        (3, "step_3.safetensors"),
        (20, "step_20.safetensors"),
        (100, "step_100.safetensors"),
    ]
    twin = _write(tmp_path / "checkpoint-3.safetensors", 0)
    with pytest.raises(UsageError, match="have the same step 3"):
        find_checkpoints([paths[2], twin])
    folder = tmp_path / "run"
    for n in ("b.safetensors", "a.safetensors"):
        _write(folder / n, 0)
    assert [(c.step, c.path.name) for c in find_checkpoints([folder])] == [(0, "a.safetensors"), (1, "b.safetensors")]
    with pytest.raises(UsageError, match="no such file"):
        find_checkpoints([tmp_path / "missing.pt"])


def test_checkpoints_listed_by_the_user_keep_their_order(tmp_path):
    """Issue 27: checkpoints were re-sorted by name, and all-MiniLM-L6-v2 given first became step 2 (its last number)."""
    minilm = _write(tmp_path / "all-MiniLM-L6-v2" / "model.safetensors", 0).parent
    (minilm / "config.json").write_text("{}")
    noisy = _write(tmp_path / "minilm-noise.safetensors", 1)
    other = _write(tmp_path / "a-model.safetensors", 2)
    found = find_checkpoints([minilm, noisy, other])
    assert [(c.step, c.path) for c in found] == [(0, minilm), (1, noisy), (2, other)]
    bare = [_write(tmp_path / n, 0) for n in ("model_800.pt.safetensors", "model_400.safetensors")]
    assert [c.path for c in find_checkpoints(bare)] == bare  # a bare number does not reorder a list
    # a shell glob of a run's checkpoints (checkpoint-1000 before checkpoint-200) is ordered by step
    glob = [_write(tmp_path / f"checkpoint-{s}.safetensors", 0) for s in (1000, 200)]
    assert [c.step for c in find_checkpoints(glob)] == [200, 1000]


def test_track_table_names_the_files_and_keeps_the_given_order(tmp_path, capsys):
    first = _write(tmp_path / "minilm-L6-v2.safetensors", 0)
    second = _write(tmp_path / "a-noisy.safetensors", 1, spike=1.0)
    assert main(["track", str(first), str(second), "-o", str(tmp_path / "t.csv")]) == 0
    out = capsys.readouterr().out
    assert "spikes: total" in out and "mean over layers" in out
    assert out.index("minilm-L6-v2.safetensors") < out.index("a-noisy.safetensors")
    frame = pd.read_csv(tmp_path / "t.csv")
    assert dict(zip(frame.step, frame.checkpoint)) == {0: str(first), 1: str(second)}
    assert frame[frame.step == 1].num_spikes.sum() == 4  # a rank-2 signal in each of the two layers


def test_a_trainer_directory_stands_for_its_checkpoints(tmp_path):
    for s in (500, 1000):
        _write(tmp_path / f"checkpoint-{s}" / "model.safetensors", s)
        (tmp_path / f"checkpoint-{s}" / "config.json").write_text("{}")
    (tmp_path / "runs").mkdir()  # tensorboard logs
    _write(tmp_path / "model.safetensors", 0)  # the final model
    (tmp_path / "config.json").write_text("{}")
    assert [(c.step, c.path.name) for c in find_checkpoints([tmp_path])] == [(500, "checkpoint-500"), (1000, "checkpoint-1000")]
    # a single model directory is one checkpoint
    assert [c.path for c in find_checkpoints([tmp_path / "checkpoint-500"])] == [tmp_path / "checkpoint-500"]
    with pytest.raises(UsageError, match="no checkpoints"):
        find_checkpoints([tmp_path / "runs"])


def test_tracked_quantities_of_noise_and_of_a_planted_signal(tmp_path):
    noise = analyze(_write(tmp_path / "noise.safetensors", 0)).layers[0]
    point = track_point(noise, 7, "noise.safetensors")
    assert (point.step, point.checkpoint, point.layer, point.N, point.M) == (7, "noise.safetensors", "dec.weight", 192, 96)
    assert point.tail_weight == pytest.approx(0.0, abs=0.02) and point.area == 1.0 - point.tail_weight
    assert point.sigma2 == pytest.approx(1.0, rel=0.1)  # entries N(0, 1)
    assert abs(point.spacing_ratio - GOE_MEAN_RATIO) < 0.06
    signal = track_point(analyze(_write(tmp_path / "signal.safetensors", 0, spike=1.0)).layers[0], 8, "signal")
    assert signal.tail_weight > 0.3 and signal.num_spikes == 2
    small = track_point(analyze(_write_small(tmp_path)).layers[0], 0, "small")
    assert np.isnan(small.area) and np.isnan(small.spacing_ratio)  # 10 eigenvalues: no bulk statistics


def test_a_tracked_quantity_is_the_row_column_of_the_same_checkpoint(tmp_path):
    """One quantity, one answer: track used to refit the MP bulk at Tracy-Widom 0.95 with MP unfolding only,
    while the row holds it at 0.99 with the polynomial fallback (Student-t(3) 800x400: area 0.9100 in the
    track, 0.9169 in the row)."""
    rng = np.random.default_rng(3)
    path = tmp_path / "t3.safetensors"
    save_file({"w": rng.standard_t(3, size=(800, 400)).astype(np.float32)}, str(path))
    (row,) = analyze(path).layers
    (point,) = track_checkpoints([path]).points
    assert (point.area, point.sigma2, point.tail_weight) == (row.mp_area, row.mp_width, row.tail_weight)
    assert point.spacing_ratio == row.spacing_ratio and point.num_spikes == row.num_spikes and point.alpha == row.alpha
    assert point.checkpoint == str(path)


def _write_small(tmp_path):
    path = tmp_path / "small.safetensors"
    save_file({"head.weight": np.random.default_rng(0).standard_normal((10, 64)).astype(np.float32)}, str(path))
    return path


def test_track_checkpoints_with_a_store_reuses_runs(tmp_path):
    paths = [_write(tmp_path / f"step_{s}.safetensors", 0, spike=s / 200) for s in (0, 100, 200)]
    store = Store(tmp_path / "s.db")
    trajectory = track_checkpoints(paths, store=store)
    frame = trajectory.to_frame()
    assert list(frame.columns) == TrackPoint.columns()
    assert trajectory.steps == [0, 100, 200] and len(frame) == 6
    tail = frame[frame.layer == "enc.weight"].set_index("step").tail_weight
    assert tail[0] < tail[100] < tail[200]
    assert [r.step for r in store.list_runs()] == [0, 100, 200]
    again = track_checkpoints(paths, store=store)
    assert len(store.list_runs()) == 3  # served from the store
    pd.testing.assert_frame_equal(again.to_frame(), frame)


@pytest.mark.slow
def test_track_cli_writes_csv_and_plots(tmp_path, capsys):
    ckpts = tmp_path / "ckpts"
    for s in (0, 50, 100):
        _write(ckpts / f"step_{s}.safetensors", 0, spike=s / 100)
    out, plots = tmp_path / "track.csv", tmp_path / "plots"
    plots.mkdir()
    assert main(["track", str(ckpts), "-o", str(out), "--plots", str(plots)]) == 0
    assert "mean over layers" in capsys.readouterr().out
    frame = pd.read_csv(out)
    assert list(frame.columns) == TrackPoint.columns() and sorted(frame.step.unique()) == [0, 50, 100]
    pngs = sorted(p.name for p in plots.iterdir())
    assert pngs == sorted(f"track_{m}.png" for m in ("alpha", "sigma2", "area", "tail_weight", "num_spikes", "spacing_ratio"))
    assert all((plots / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert main(["track", str(ckpts), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 6
    assert main(["track", str(ckpts), "-o", str(tmp_path / "track.parquet")]) == 2
    (tmp_path / "a_file").write_text("x")
    assert main(["track", str(ckpts), "--plots", str(tmp_path / "a_file" / "plots")]) == 2
    capsys.readouterr()
    # every output's missing folders are made, as analyze --plots always made its folder
    assert main(["track", str(ckpts), "--plots", str(tmp_path / "new" / "plots"), "-o", str(tmp_path / "new2" / "t.csv")]) == 0
    assert (tmp_path / "new" / "plots" / "track_alpha.png").is_file() and (tmp_path / "new2" / "t.csv").is_file()
