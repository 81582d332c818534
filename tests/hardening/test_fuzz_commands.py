"""Seeded mutation fuzzing of model files and merge configurations through every command that reads models.

``compare``, ``track``, ``compress`` (``--dense`` and factored), ``merge-check`` and ``merge`` each run on
small models (three 64x48 float32 layers with biases) stored as safetensors, a sharded safetensors
directory (its index JSON is mutated), .npz, a torch checkpoint (.pt/.bin) and ONNX; one input file is
truncated, bit-flipped or has header bytes overwritten (:func:`fuzzing.mutations`), and for ``merge`` the
YAML/JSON configuration too.  Every case must end either in exit code 0 with complete, parseable outputs,
or in exit code 2 with ONE stderr line ``netspectra: error: ...`` naming the mutated file and no output or
temporary file left (the directory holds exactly the inputs again) — never another exit code, an escaped
exception, a hang (SIGALRM per case), or a memory blow-up (address space capped during the loop).  Each
loop runs a fixed number of cases from fixed seeds, so a run is reproducible; a failure names the seed and
the case number, and the counts are printed per command.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from fixtures_models import rng, save_torch, write_onnx_model, write_safetensors, write_sharded
from fuzzing import MEMORY_HEADROOM, RSS_GROWTH, check_refusal, memory_cap, mutations, peak_rss, run_cli

#: Mutated cases per command, round-robin over the formats (the whole file takes about 15 s on 2 shared
#: cores; compare and track analyze every layer with the depth columns, about 0.1 s per matrix).
CASES = 60
SECONDS_PER_CASE = 20  # a hang fails (fuzzing.run_cli), it is no budget

MODEL_FORMATS = ("safetensors", "sharded", "npz", "pt", "onnx")


def _arrays(seed: int) -> dict[str, np.ndarray]:
    """Three 64x48 float32 layers with biases; seed 0 is the base, seed k a small update of it (same
    names and shapes, so that the models compare and merge)."""
    base = rng(0)
    arrays = {}
    for i in range(3):
        arrays[f"layers.{i}.weight"] = base.standard_normal((64, 48)).astype(np.float32)
        arrays[f"layers.{i}.bias"] = base.standard_normal(64).astype(np.float32)
    if seed:
        delta = rng(seed)
        arrays = {k: (v + 0.05 * delta.standard_normal(v.shape)).astype(np.float32) for k, v in arrays.items()}
    return arrays


def _available(fmt: str) -> bool:
    needs = {"pt": "torch", "onnx": "onnx"}.get(fmt)
    return needs is None or importlib.util.find_spec(needs) is not None


def _write(fmt: str, directory: Path, stem: str, seed: int, torch_suffix: str = ".pt") -> tuple[Path, Path]:
    """Write model ``seed`` as ``stem`` in format ``fmt``: (path given to the command, the file to mutate)."""
    if fmt == "safetensors":
        path = write_safetensors(directory / f"{stem}.safetensors", _arrays(seed))
        return path, path
    if fmt == "sharded":
        write_sharded(directory / f"{stem}_sharded", _arrays(seed))
        return directory / f"{stem}_sharded", directory / f"{stem}_sharded" / "model.safetensors.index.json"
    if fmt == "npz":
        path = directory / f"{stem}.npz"
        np.savez(path, **_arrays(seed))
        return path, path
    if fmt == "pt":
        import torch

        path = directory / f"{stem}{torch_suffix}"
        save_torch(path, {k: torch.from_numpy(v) for k, v in _arrays(seed).items()})
        return path, path
    if fmt == "onnx":
        path = directory / f"{stem}.onnx"
        write_onnx_model(path, seed=seed)
        return path, path
    raise ValueError(fmt)


# ----------------------------------------------------------------------------------------------- scenarios


@dataclass
class Run:
    """One command line, the outputs it writes on success, and the check that they are complete."""

    argv: list
    outputs: list[Path]
    parse: Callable[[], None]


@dataclass
class Scenario:
    """Inputs written under ``root``; ``target`` is the file mutated; cases cycle through ``runs``."""

    root: Path
    target: Path
    runs: list[Run] = field(default_factory=list)

    @property
    def name(self) -> str:
        """What the error must name: the target's path below ``root`` (``b.npz``, ``b_sharded/...json``)."""
        return os.fspath(self.target.relative_to(self.root))


def _json_with_layers(path: Path) -> None:
    doc = json.loads(path.read_text())
    assert isinstance(doc["layers"], list) and doc["layers"], path


def _compare(root: Path, fmt: str) -> Scenario:
    a, _ = _write(fmt, root, "a", 0)
    b, target = _write(fmt, root, "b", 1)
    out = root / "compare.json"
    return Scenario(root, target, [Run(["compare", a, b, "-o", out], [out], lambda: _json_with_layers(out))])


def _merge_check(root: Path, fmt: str) -> Scenario:
    a, _ = _write(fmt, root, "a", 0)
    b, target = _write(fmt, root, "b", 1)
    out = root / "check.json"
    argv = ["merge-check", a, b, "-o", out, "--quiet"]
    return Scenario(root, target, [Run(argv, [out], lambda: _json_with_layers(out))])


def _track(root: Path, fmt: str) -> Scenario:
    ckpts = [_write(fmt, root, f"step_{100 * (i + 1)}", i, torch_suffix=".bin") for i in range(3)]
    out = root / "track.csv"

    def parse() -> None:
        import pandas as pd

        frame = pd.read_csv(out)
        assert len(frame) and set(frame["step"]) <= {100, 200, 300}, frame

    return Scenario(root, ckpts[1][1], [Run(["track", *(p for p, _ in ckpts), "-o", out], [out], parse)])


def _compress(root: Path, fmt: str) -> Scenario:
    from safetensors.numpy import load_file

    from netspectra.denoise import load_factored

    src, target = _write(fmt, root, "model", 0)
    out = root / "small.safetensors"
    argv = ["compress", src, "--method", "mp-edge", "--force", "-o", out, "--quiet"]

    def parse_factored() -> None:
        assert json.loads(out.with_suffix(".json").read_text())["format"] == "netspectra-factored"
        assert load_factored(out)

    return Scenario(
        root,
        target,
        [
            Run([*argv, "--dense"], [out], lambda: load_file(os.fspath(out))),
            Run(argv, [out, out.with_suffix(".json")], parse_factored),
        ],
    )


def _check_merged(out: Path) -> None:
    from safetensors.numpy import load_file

    index = json.loads((out / "model.safetensors.index.json").read_text())
    for shard in set(index["weight_map"].values()):
        assert set(load_file(os.fspath(out / shard))) <= set(index["weight_map"]), shard
    assert json.loads((out / "netspectra_merge.json").read_text())["layers"]


def _merge_config(root: Path, base: Path, models: list[Path], suffix: str) -> Path:
    """A spectral-auto merge configuration (.yaml or .json) with paths relative to ``root``."""
    doc = {
        "base_model": os.fspath(base.relative_to(root)),
        "models": [{"path": os.fspath(m.relative_to(root)), "weight": 1.0} for m in models],
        "method": "spectral-auto",
        "parameters": {"scale": 1.0, "density": 0.2, "eta": 0.4, "k": None},
        "overrides": [{"match": r"layers\.0\.", "method": "ties", "parameters": {"density": 0.5}}],
    }
    path = root / f"merge{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(doc, indent=1))
    else:
        import yaml

        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _merge(root: Path, fmt: str) -> Scenario:
    base, _ = _write(fmt, root, "base", 0, torch_suffix=".bin")
    ft1, _ = _write(fmt, root, "ft1", 1, torch_suffix=".bin")
    ft2, target = _write(fmt, root, "ft2", 2, torch_suffix=".bin")
    config = _merge_config(root, base, [ft1, ft2], ".yaml")
    out = root / "merged"
    return Scenario(root, target, [Run(["merge", config, "-o", out, "--quiet"], [out], lambda: _check_merged(out))])


def _config(root: Path, suffix: str) -> Scenario:
    models = [_write("safetensors", root, stem, seed)[0] for seed, stem in enumerate(("base", "ft1", "ft2"))]
    config = _merge_config(root, models[0], models[1:], suffix)
    out = root / "merged"
    return Scenario(root, config, [Run(["merge", config, "-o", out, "--quiet"], [out], lambda: _check_merged(out))])


SCENARIOS = {"compare": _compare, "track": _track, "compress": _compress, "merge-check": _merge_check, "merge": _merge}


# ----------------------------------------------------------------------------------------------- the loop


def _listing(root: Path) -> list[str]:
    return sorted(os.fspath(p.relative_to(root)) for p in root.rglob("*"))


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _fuzz(command: str, scenarios: dict[str, Scenario], capsys) -> dict[int, int]:
    """:data:`CASES` cases round-robin over the scenarios, one mutation of each target per turn; returns
    {exit code: cases}."""
    kinds = list(scenarios)
    generators = {  # seeded by the bytes of "command/kind"
        k: mutations(s.target.read_bytes(), np.random.default_rng(list(f"{command}/{k}".encode()))) for k, s in scenarios.items()
    }
    listings = {k: _listing(s.root) for k, s in scenarios.items()}
    outcomes = {0: 0, 2: 0}
    rss_before = peak_rss()
    with memory_cap(MEMORY_HEADROOM):
        for i in range(CASES):
            kind = kinds[i % len(kinds)]
            scenario = scenarios[kind]
            what, mutated = next(generators[kind])
            run = scenario.runs[(i // len(kinds)) % len(scenario.runs)]
            label = f"{command} {kind} (seed {command}/{kind}) case {i}: {what}" + (" --dense" if "--dense" in run.argv else "")
            scenario.target.write_bytes(mutated)
            code, err = run_cli(run.argv, capsys, SECONDS_PER_CASE, label)
            assert "Traceback" not in err, f"{label}: {err}"
            if code == 0:
                try:
                    run.parse()
                except Exception as exc:
                    raise AssertionError(f"{label}: incomplete output: {type(exc).__name__}: {exc}") from exc
                for out in run.outputs:
                    _remove(out)
            else:
                check_refusal(code, err, scenario.name, label)
            left = sorted(set(_listing(scenario.root)) ^ set(listings[kind]))
            assert not left, f"{label}: exit {code} left {left}"
            outcomes[code] += 1
    growth = peak_rss() - rss_before
    assert growth < RSS_GROWTH, f"{command}: peak RSS grew by {growth / 2**20:.0f} MiB"
    with capsys.disabled():
        print(f"\n{command}: {sum(outcomes.values())} cases, {outcomes[0]} analyzed, {outcomes[2]} refused ({', '.join(kinds)})")
    return outcomes


@pytest.mark.parametrize("command", list(SCENARIOS))
@pytest.mark.slow
def test_fuzz_command_inputs(tmp_path, command, capsys):
    """One input of ``command`` mutated, in every model format, round-robin."""
    scenarios = {}
    for fmt in filter(_available, MODEL_FORMATS):
        (tmp_path / fmt).mkdir()
        scenarios[fmt] = SCENARIOS[command](tmp_path / fmt, fmt)
    outcomes = _fuzz(command, scenarios, capsys)
    assert outcomes[2] >= len(scenarios)  # the empty file of each format at least


def _hostile(root: Path) -> list[Path]:
    """Files whose headers are fine but whose tensors cannot be read as they claim: an object array and
    a complex array in an .npz, an .npz member whose header promises 123 GB, and (with torch) a .pt
    tensor that is a 4 TiB broadcast view of one stored float."""
    files = [root / "object.npz", root / "complex.npz", root / "forged-shape.npz"]
    arrays = _arrays(0)
    np.savez(files[0], **arrays, extra=np.array([{"a": 1}], dtype=object))
    np.savez(files[1], **arrays, extra=(arrays["layers.0.weight"] * 1j).astype(np.complex64))
    member = io.BytesIO()
    header = {"descr": "<f4", "fortran_order": False, "shape": (64, 480_000_000)}
    np.lib.format.write_array_header_1_0(member, header)
    member.write(arrays["layers.0.weight"].tobytes())
    with zipfile.ZipFile(files[2], "w") as z:
        z.writestr("layers.0.weight.npy", member.getvalue())
    if _available("pt"):
        import torch

        broadcast = {"w": torch.zeros(1).expand(2**20, 2**20), "b": torch.ones(64)}
        files.append(save_torch(root / "broadcast.pt", broadcast))
    return files


@pytest.mark.parametrize("command", ["compress", "merge"])
def test_unreadable_and_forged_tensors_are_refused_naming_the_file(tmp_path, command, capsys):
    """compress and merge need every tensor: one that cannot be read ends the run with one line naming
    the file (not a MemoryError, not a tensor name alone), and nothing is written."""
    for path in _hostile(tmp_path):
        if command == "compress":
            argv = ["compress", path, "--method", "mp-edge", "-o", tmp_path / "out.safetensors", "--quiet"]
        else:
            config = _merge_config(tmp_path, path, [path, path], ".json")
            argv = ["merge", config, "-o", tmp_path / "merged", "--quiet"]
        before = _listing(tmp_path)
        with memory_cap(MEMORY_HEADROOM):
            code, err = run_cli(argv, capsys, SECONDS_PER_CASE, f"{command} {path.name}")
        check_refusal(code, err, path.name, f"{command} {path.name}")
        assert _listing(tmp_path) == before, f"{command} {path.name}: output left"


@pytest.mark.parametrize("command", ["merge", "merge-check"])
def test_a_missing_model_path_is_the_configurations_error(tmp_path, command, capsys):
    """A typo in a model path (the config mutation that most often survives parsing) names the
    configuration file and the key, not only the path that does not exist."""
    models = [_write("safetensors", tmp_path, stem, seed)[0] for seed, stem in enumerate(("base", "ft1", "ft2"))]
    config = _merge_config(tmp_path, models[0], [models[1], tmp_path / "ft2.safetensorz"], ".yaml")
    argv = (
        ["merge", config, "-o", tmp_path / "merged", "--quiet"]
        if command == "merge"
        else ["merge-check", "--config", config, "-o", tmp_path / "check.json", "--quiet"]
    )
    before = _listing(tmp_path)
    code, err = run_cli(argv, capsys, SECONDS_PER_CASE, command)
    check_refusal(code, err, "merge.yaml", command)
    assert "models[1].path" in err and "ft2.safetensorz" in err
    assert _listing(tmp_path) == before


def test_fuzz_merge_config(tmp_path, capsys):
    """The merge configuration mutated (YAML and JSON), the models intact."""
    scenarios = {}
    for suffix in (".yaml", ".json"):
        (tmp_path / suffix[1:]).mkdir()
        scenarios[suffix[1:]] = _config(tmp_path / suffix[1:], suffix)
    outcomes = _fuzz("merge config", scenarios, capsys)
    assert outcomes[2] >= len(scenarios)
