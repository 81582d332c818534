"""Merging model files: exact answers, sharded output readable by two loaders, clear errors, atomic output."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from merge_testbed import small_model, write_model
from safetensors import safe_open
from safetensors.numpy import save_file

from netspectra.errors import UsageError
from netspectra.io import open_source
from netspectra.io.safetensors_file import SafetensorsFile
from netspectra.merge import METHODS, MergeError, check_compatibility, merge_models
from netspectra.merge import layer as merge_layer_module


def read_model(path: Path) -> dict[str, np.ndarray]:
    with open_source(path) as src:
        return {r.name: r.load() for r in src.tensors()}


@pytest.fixture
def family(tmp_path: Path) -> Path:
    """base, two fine-tunes (a, b) and a copy of a, as 1-file directories with config.json."""
    base = small_model(0)
    write_model(tmp_path / "base", base, config={"model_type": "tiny"})
    write_model(tmp_path / "a", small_model(1, base=base), config={"model_type": "tiny"})
    write_model(tmp_path / "b", small_model(2, base=base), config={"model_type": "tiny"})
    write_model(tmp_path / "a-copy", small_model(1, base=base))
    return tmp_path


def config(root: Path, method: str, models=("a", "b"), base: str | None = "base", **extra) -> dict:
    """A configuration dict; ``models`` are names under ``root``, or {"path", "weight"} mappings."""
    paths = [{**m, "path": str(root / m["path"])} if isinstance(m, dict) else str(root / m) for m in models]
    out = {"models": paths, "method": method, **extra}
    if base is not None:
        out["base_model"] = str(root / base)
    return out


@pytest.mark.parametrize("method", METHODS)
def test_merging_two_identical_models_writes_the_model_back_bit_for_bit(family, method):
    """Base a, models a and a: every task vector is zero, so every method must return a exactly."""
    result = merge_models(config(family, method, models=("a", "a-copy"), base="a"), family / "out")
    a, merged = read_model(family / "a"), read_model(family / "out")
    assert merged.keys() == a.keys()
    for name in a:
        np.testing.assert_array_equal(merged[name], a[name], err_msg=f"{method}: {name}")
    assert {x.name: x.dtype for x in result.layers} == {r.name: r.dtype for r in open_source(family / "a").tensors()}


def test_linear_merge_of_files_matches_a_hand_computation(family):
    models = [{"path": "a", "weight": 1.0}, {"path": "b", "weight": 3.0}]
    merge_models(config(family, "linear", base=None, models=models), family / "out")
    a, b, merged = read_model(family / "a"), read_model(family / "b"), read_model(family / "out")
    for name in a:
        if name == "position_ids":
            np.testing.assert_array_equal(merged[name], a[name])
            continue
        expected = ((a[name].astype(np.float64) + 3.0 * b[name].astype(np.float64)) / 4.0).astype(np.float32)
        np.testing.assert_array_equal(merged[name], expected, err_msg=name)


def test_every_method_moves_matrices_and_applies_the_average_rule_elsewhere(family):
    """STAR and TSV decompose matrices and average the other tensors; TIES, like mergekit's, trims and elects
    signs on every tensor."""
    a, b, base = read_model(family / "a"), read_model(family / "b"), read_model(family / "base")
    for method in ("ties", "star", "tsv"):
        result = merge_models(config(family, method), family / method)
        merged = read_model(family / method)
        rules = {x.name: x.rule for x in result.layers}
        elsewhere = "ties" if method == "ties" else "average"
        assert rules == {
            "fc1.weight": method,
            "fc2.weight": method,
            "fc1.bias": elsewhere,
            "norm.weight": elsewhere,
            "conv.weight": elsewhere,
            "position_ids": "copy",
        }
        for name in ("fc1.bias", "conv.weight") if method != "ties" else ():
            np.testing.assert_allclose(merged[name], (a[name] + b[name]) / 2, rtol=1e-6, atol=1e-6)
        assert not np.allclose(merged["fc1.weight"], base["fc1.weight"])


def test_sharded_input_gives_sharded_output_readable_by_both_loaders(tmp_path: Path):
    base = small_model(0)
    write_model(tmp_path / "base", base, n_shards=3, config={"model_type": "tiny", "layers": 2})
    write_model(tmp_path / "a", small_model(1, base=base), n_shards=3)
    write_model(tmp_path / "b", small_model(2, base=base), n_shards=3)
    result = merge_models(config(tmp_path, "spectral-auto"), tmp_path / "out")
    out = tmp_path / "out"
    shards = [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
    extra = ["model.safetensors.index.json", "config.json", "netspectra_merge.json"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*shards, *extra])
    assert json.loads((out / "config.json").read_text()) == {"model_type": "tiny", "layers": 2}
    index = json.loads((out / "model.safetensors.index.json").read_text())
    ref_index = json.loads((tmp_path / "base" / "model.safetensors.index.json").read_text())
    assert index["weight_map"] == ref_index["weight_map"]  # same tensors in the same shard
    ours = read_model(out)
    theirs = {}
    for shard in shards:
        with safe_open(str(out / shard), framework="numpy") as f:
            assert f.metadata()["format"] == "pt"
            theirs.update({k: f.get_tensor(k) for k in f.keys()})
    assert set(theirs) == set(index["weight_map"]) == set(ours) == set(base)
    assert index["metadata"]["total_size"] == sum(v.nbytes for v in theirs.values())
    for name, values in theirs.items():
        np.testing.assert_array_equal(values.astype(ours[name].dtype), ours[name])
        assert values.dtype == base[name].dtype
    log = json.loads((out / "netspectra_merge.json").read_text())
    assert [x["name"] for x in log["layers"]] == [x.name for x in result.layers]
    assert log["config"]["method"] == "spectral-auto"


def test_output_dtype_is_the_inputs_unless_configured(family):
    result = merge_models(config(family, "task-arithmetic", dtype="bf16"), family / "out")
    entries = SafetensorsFile(family / "out" / "model.safetensors").entries
    assert {n: e.dtype for n, e in entries.items()} == {**{n: "BF16" for n in entries}, "position_ids": "I64"}
    assert {x.dtype for x in result.layers if x.rule != "copy"} == {"BF16"}
    with safe_open(str(family / "out" / "model.safetensors"), framework="pt") as f:  # torch reads bf16
        assert str(f.get_tensor("fc1.weight").dtype) == "torch.bfloat16"


def test_a_bf16_model_merged_with_itself_is_unchanged(tmp_path: Path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file as save_torch

    weights = {"w": torch.randn(16, 8, generator=torch.Generator().manual_seed(0)).to(torch.bfloat16)}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        save_torch(weights, str(tmp_path / name / "model.safetensors"))
    merge_models(config(tmp_path, "tsv", base="a"), tmp_path / "out")
    with safe_open(str(tmp_path / "out" / "model.safetensors"), framework="pt") as f:
        assert torch.equal(f.get_tensor("w"), weights["w"])


def write_variant(root: Path, name: str, change) -> None:
    tensors = small_model(1, base=small_model(0))
    change(tensors)
    write_model(root / name, tensors)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.update({"fc2.weight": np.zeros((8, 25), np.float32)}), "tensor 'fc2.weight' has shape (8, 25) in"),
        (lambda t: t.update({"fc2.weight": t["fc2.weight"].astype(np.float16)}), "tensor 'fc2.weight' has dtype F16"),
        (lambda t: t.pop("norm.weight"), "tensor 'norm.weight' is missing from"),
        (lambda t: t.update({"extra.bias": np.zeros(3, np.float32)}), "tensor 'extra.bias' of"),
        (lambda t: t.update({"position_ids": np.arange(1, 7)[None]}), "tensor 'position_ids' (I64) differs between"),
        (lambda t: t["fc1.bias"].__setitem__(0, np.nan), "tensor 'fc1.bias' of"),
    ],
)
def test_models_that_do_not_line_up_give_an_error_naming_the_tensor(family, change, message):
    write_variant(family, "bad", change)
    with pytest.raises(MergeError) as err:
        merge_models(config(family, "ties", models=("a", "bad")), family / "out")
    assert message in str(err.value)
    assert str(family / "bad") in str(err.value) or "bad" in str(err.value)
    assert not (family / "out").exists()


def test_mismatches_are_also_refused_by_merge_check(family):
    write_variant(family, "bad", lambda t: t.pop("fc1.weight"))
    with pytest.raises(MergeError, match="tensor 'fc1.weight' is missing from"):
        check_compatibility([family / "a", family / "bad"])


@pytest.mark.parametrize("serial", [True, False], ids=["serial", "threads"])
def test_an_error_while_merging_leaves_no_output_and_no_temporary_files(family, monkeypatch, serial):
    """One tensor after the other the error stops the merge at once; in threads (the default executor runs
    small tensors side by side) the tensors already started finish, and nothing is written either way."""
    from netspectra.scale.executor import LocalExecutor

    calls = []
    real = merge_layer_module.merge_layer

    def failing(name, *args, **kwargs):
        calls.append(name)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(name, *args, **kwargs)

    monkeypatch.setattr("netspectra.merge.model.merge_layer", failing)
    before = set(family.iterdir())
    with pytest.raises(KeyboardInterrupt):
        merge_models(config(family, "ties"), family / "out", executor=LocalExecutor() if serial else None)
    assert len(calls) == 3 if serial else len(calls) >= 3
    assert set(family.iterdir()) == before  # no out/, no .out.*.tmp


def test_output_directory_rules(family):
    (family / "out").mkdir()
    (family / "out" / "old.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not an empty directory"):
        merge_models(config(family, "linear"), family / "out")
    assert (family / "out" / "old.txt").read_text() == "keep me"
    (family / "empty").mkdir()
    merge_models(config(family, "linear"), family / "empty")  # an empty directory is replaced
    assert (family / "empty" / "model.safetensors").is_file()
    with pytest.raises(UsageError, match="not an empty directory"):  # an input file
        merge_models(config(family, "linear"), family / "a" / "model.safetensors")
    with pytest.raises(UsageError, match="a/model.safetensors is not a directory"):
        merge_models(config(family, "linear"), family / "a" / "model.safetensors" / "dir")
    merge_models(config(family, "linear"), family / "no" / "such" / "dir")  # missing folders are made
    assert (family / "no" / "such" / "dir" / "model.safetensors").is_file()


def write_stack(directory: Path, layers: int, rng: np.random.Generator) -> int:
    """base, a, b of ``layers`` matrices 128 x 128 (64 KiB each as F32); returns the bytes of one model."""
    directory.mkdir()
    base = {f"layers.{i}.weight": rng.standard_normal((128, 128)).astype(np.float32) for i in range(layers)}
    save_file(base, str(directory / "base.safetensors"))
    for name in ("a", "b"):
        tuned = {k: v + rng.standard_normal(v.shape).astype(np.float32) * 0.01 for k, v in base.items()}
        save_file(tuned, str(directory / f"{name}.safetensors"))
    return sum(v.nbytes for v in base.values())


@pytest.mark.parametrize("serial", [True, False], ids=["serial", "threads"])
def test_peak_memory_does_not_grow_with_the_number_of_layers(tmp_path: Path, serial):
    """A streaming merge holds one tensor of each model at a time (serial), or one per thread and one ahead
    of each (the default executor's threads): 8 or 64 layers, the same peak."""
    from netspectra.scale.executor import LocalExecutor

    rng = np.random.default_rng(0)
    for method in ("ties", "tsv"):
        peaks = {}
        for layers in (8, 64):
            d = tmp_path / f"{method}-{layers}"
            model_bytes = write_stack(d, layers, rng)
            cfg = {
                "base_model": str(d / "base.safetensors"),
                "method": method,
                "models": [str(d / "a.safetensors"), str(d / "b.safetensors")],
            }
            tracemalloc.start()
            try:
                merge_models(cfg, d / "out", executor=LocalExecutor() if serial else None)
                peaks[layers] = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        if serial:
            assert peaks[64] < 1.5 * peaks[8], (method, peaks)
            assert peaks[64] < 0.25 * 3 * model_bytes, (method, peaks, model_bytes)  # holding the 3 models: 12 MiB
        else:  # 2 threads and 2 layers ahead: at most 5 of the 64 layers in flight, whenever the peak falls
            assert peaks[64] < 0.5 * 3 * model_bytes, (method, peaks, model_bytes)


def test_degenerate_shapes_merge_without_error(tmp_path: Path):
    rng = np.random.default_rng(0)
    shapes = {"empty": (0, 4), "row": (1, 8), "column": (8, 1), "scalar": ()}
    base = {k: np.asarray(rng.standard_normal(s), np.float32) for k, s in shapes.items()}
    for name, seed in (("a", 1), ("b", 2)):
        r = np.random.default_rng(seed)
        tuned = {k: np.asarray(v + r.standard_normal(v.shape), np.float32) for k, v in base.items()}
        write_model(tmp_path / name, tuned)
    write_model(tmp_path / "base", base)
    for method in ("star", "tsv", "spectral-auto"):
        result = merge_models(config(tmp_path, method), tmp_path / method)
        rules = {x.name: x.rule for x in result.layers}
        assert rules["empty"] == rules["scalar"] == "average"
        assert rules["row"] != "average" or method == "spectral-auto"
        merged = read_model(tmp_path / method)
        assert {k: v.shape for k, v in merged.items()} == shapes
    report = check_compatibility([tmp_path / "a", tmp_path / "b"], base=tmp_path / "base")
    assert [x.name for x in report.layers] == ["column", "row"] and report.num_other == 2
