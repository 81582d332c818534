"""Structured attacks (issue 17), beside the byte-mutation fuzzers: what a hand-crafted file can hold.

Every case of :func:`fuzzing.structured_attacks` (nesting 100k deep, aliases, huge integers, NaN,
FIFOs, devices, directories) is put where a structured input is read: a merge configuration (merge,
merge-check --config), a model's ``config.json`` and its shard index (analyze, compare, track, compress,
merge-check).  Each run ends, within its time and memory bounds, in exit 0 or in one line naming the
file and exit 2; never a traceback, a hang or a kill.  Hostile pickles, a pathological override regex
and a conv stack too large for memory are checked one by one.  Counts are printed (``-s``).
"""

from __future__ import annotations

import json
import pickle
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from fuzzing import MEMORY_HEADROOM, check_refusal, memory_cap, place_attack, run_cli, structured_attacks
from netspectra import pipeline
from netspectra.io.torch_pickle import read_torch_zip

SECONDS = 30


def _model(directory: Path, seed: int, names: tuple[str, ...] = ("layers.0.attn.weight", "layers.1.mlp.weight")) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    save_file({n: rng.standard_normal((48, 32)).astype(np.float32) for n in names}, str(directory / "model.safetensors"))
    return directory


def _outcome(code: int, err: str, name: str, label: str) -> str:
    if code == 0:
        return "accepted"
    check_refusal(code, err, name, label)
    return "refused"


@pytest.mark.slow
def test_structured_attacks_on_merge_configurations(tmp_path, capsys):
    root = tmp_path
    _model(root / "base", 0), _model(root / "ft", 1)
    outcomes: Counter[str] = Counter()
    for suffix in (".json", ".yaml"):
        config = root / f"merge{suffix}"
        for label, content in structured_attacks(yaml_too=suffix == ".yaml"):
            place_attack(config, content)
            out = root / "merged"
            for argv in (["merge", config, "-o", out, "--quiet"], ["merge-check", "--config", config, "--quiet"]):
                with memory_cap(MEMORY_HEADROOM):
                    code, err = run_cli(argv, capsys, SECONDS, f"{argv[0]} {label}{suffix}")
                outcomes[_outcome(code, err, config.name, f"{argv[0]} {label}{suffix}")] += 1
                assert not out.exists(), f"{label}: merge wrote an output"
    print(f"merge configurations: {sum(outcomes.values())} structured attacks, {dict(outcomes)}")
    assert outcomes["accepted"] == 0  # every case is an invalid configuration


@pytest.mark.parametrize("target", ["config.json", "model.safetensors.index.json"])
@pytest.mark.slow
def test_structured_attacks_on_a_models_json_through_every_command(tmp_path, target, capsys):
    model = _model(tmp_path / "model", 0)
    other = _model(tmp_path / "other", 1)
    if target.endswith("index.json"):
        (model / "model.safetensors").rename(model / "model-00001-of-00001.safetensors")
    outcomes: Counter[str] = Counter()
    for label, content in structured_attacks(yaml_too=False):
        place_attack(model / target, content)
        for argv in (
            ["analyze", model, "--quiet", "-o", tmp_path / "out.csv"],
            ["compare", model, other],
            ["track", model, other],
            ["compress", model, "-o", tmp_path / "c.safetensors", "--force"],
            ["merge-check", model, other, "--quiet"],
        ):
            with memory_cap(MEMORY_HEADROOM):
                code, err = run_cli(argv, capsys, SECONDS, f"{argv[0]} {target} {label}")
            outcomes[_outcome(code, err, target, f"{argv[0]} {target} {label}")] += 1
    print(f"{target}: {sum(outcomes.values())} structured attacks, {dict(outcomes)}")
    assert outcomes["refused"] > 0


def test_override_regex_with_catastrophic_backtracking_is_stopped(tmp_path, capsys):
    """``^(a|aa)*$`` on a name of 40 a's backtracks through 165M ways to split it (minutes with ``re``);
    regex's time bound refuses it."""
    name = "a" * 40 + ".weight"
    for seed, stem in enumerate(("base", "ft1", "ft2")):
        _model(tmp_path / stem, seed, (name,))
    config = tmp_path / "merge.json"
    config.write_text(
        json.dumps(
            {
                "base_model": "base",
                "models": ["ft1", "ft2"],
                "method": "task-arithmetic",
                "overrides": [{"match": "^(a|aa)*$", "method": "linear"}],
            }
        )
    )
    code, err = run_cli(["merge", config, "-o", tmp_path / "out", "--quiet"], capsys, SECONDS, "regex")
    check_refusal(code, err, "(a|aa)*", "regex")
    assert "catastrophic backtracking" in err and not (tmp_path / "out").exists()


def _torch_zip(path: Path, pickled: bytes, encrypted: bool = False) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pickled)
        zf.writestr("archive/byteorder", b"little")
    if encrypted:  # set the "encrypted" flag bit in every local and central header
        data = bytearray(path.read_bytes())
        for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            start = data.find(signature)
            while start >= 0:
                data[start + flag_at] |= 1
                start = data.find(signature, start + 4)
        path.write_bytes(bytes(data))
    return path


DEEP = 100_000
HOSTILE_PICKLES = {
    "nested lists": b"\x80\x02" + b"]" * DEEP + b"a" * (DEEP - 1) + b".",
    "nested dicts": b"\x80\x02}" + b"X\x01\x00\x00\x00k}" * DEEP + b"s" * DEEP + b".",
    "list inside itself": b"\x80\x02]\x94h\x00a.",
    "dict inside itself": b"\x80\x02}\x94X\x01\x00\x00\x00kh\x00s.",
    "bytearray of 2**100": b"\x80\x02cbuiltins\nbytearray\n\x8a\x0d" + (2**100).to_bytes(13, "little") + b"\x85R.",
}


@pytest.mark.parametrize("case", sorted(HOSTILE_PICKLES))
@pytest.mark.slow
def test_hostile_pickles_end_in_one_line_or_an_empty_model(tmp_path, case, capsys):
    path = _torch_zip(tmp_path / "m.pt", HOSTILE_PICKLES[case])
    for argv in (["analyze", path, "--quiet", "-o", tmp_path / "o.csv"], ["compress", path, "-o", tmp_path / "c.safetensors"]):
        with memory_cap(MEMORY_HEADROOM):
            code, err = run_cli(argv, capsys, SECONDS, f"{argv[0]} {case}")
        _outcome(code, err, "m.pt", f"{argv[0]} {case}")
    if case.startswith("bytearray"):
        assert code == 2 and "bytearray of" in err


def test_encrypted_member_is_refused_by_name(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    plain = tmp_path / "plain.pt"
    torch.save({"w": torch.randn(8, 4)}, plain)
    with zipfile.ZipFile(plain) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    path = tmp_path / "enc.pt"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    _torch_zip(path, members[next(n for n in members if n.endswith("data.pkl"))], encrypted=True)
    code, err = run_cli(["analyze", path, "--quiet"], capsys, SECONDS, "encrypted")
    check_refusal(code, err, "enc.pt", "encrypted")
    assert "encrypted" in err


def test_tensor_name_with_a_lone_surrogate_is_skipped_not_a_crash(tmp_path, capsys):
    """A pickle's BINUNICODE decodes with surrogatepass: a name no CSV or terminal can hold."""
    torch = pytest.importorskip("torch")
    plain = tmp_path / "plain.pt"
    torch.save({"ok.weight": torch.randn(20, 10), "badXXX.weight": torch.randn(20, 10)}, plain)
    path = tmp_path / "surrogate.pt"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                data = data.replace(b"badXXX.weight", b"bad\xed\xb2\x80.weight")
            dst.writestr(info.filename, data)
    tensors, _handle, _big = read_torch_zip(path, str(path))
    assert "bad\udc80.weight" in tensors  # the attack is what it claims
    out = tmp_path / "o.csv"
    code, err = run_cli(["analyze", path, "--quiet", "-o", out], capsys, SECONDS, "surrogate")
    assert code == 0, err
    assert out.read_text().count("ok.weight") == 1 and "bad" not in out.read_text()


def test_conv_stack_larger_than_memory_is_an_error_row_planned_before_loading(tmp_path, monkeypatch):
    """A (16, 16, 40, 50, 50) kernel is 100k matrices; with 100 MB available its analysis (about 16
    bytes an entry) is refused before the stack is read, and the other layer is analyzed."""
    rng = np.random.default_rng(0)
    path = tmp_path / "m.safetensors"
    save_file(
        {
            "conv.weight": rng.standard_normal((16, 16, 40, 50, 50)).astype(np.float32),
            "fc.weight": rng.standard_normal((48, 32)).astype(np.float32),
        },
        str(path),
    )
    monkeypatch.setattr(pipeline, "available_memory", lambda: 100 << 20)
    rows = {row.name: row for row in pipeline.analyze(path).layers}
    assert rows["conv.weight"].status == "error"
    assert "100,000 matrices 16 x 16 needs about 0.4 GiB to analyze, 0.1 GiB available" in rows["conv.weight"].warning
    assert rows["fc.weight"].status == "ok"


def test_pickle_cases_are_what_they_claim():
    """The hand-written pickles above build the structures their names say (guards the test itself)."""
    nested = pickle.loads(b"\x80\x02" + b"]" * 3 + b"a" * 2 + b".")
    assert nested == [[[]]]
    loop = pickle.loads(HOSTILE_PICKLES["list inside itself"])
    assert loop[0] is loop


@pytest.mark.slow
def test_structured_attacks_on_an_adapter_config(tmp_path, capsys):
    """adapter_config.json of a PEFT adapter folder is read by the same bounded reader."""
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    rng = np.random.default_rng(0)
    save_file(
        {
            "base_model.model.q_proj.lora_A.weight": rng.standard_normal((4, 32)).astype(np.float32),
            "base_model.model.q_proj.lora_B.weight": rng.standard_normal((48, 4)).astype(np.float32),
        },
        str(adapter / "adapter_model.safetensors"),
    )
    outcomes: Counter[str] = Counter()
    for label, content in structured_attacks(yaml_too=False):
        place_attack(adapter / "adapter_config.json", content)
        with memory_cap(MEMORY_HEADROOM):
            code, err = run_cli(["analyze", adapter, "--quiet"], capsys, SECONDS, f"adapter {label}")
        outcomes[_outcome(code, err, "adapter_config.json", f"adapter {label}")] += 1
    print(f"adapter_config.json: {sum(outcomes.values())} structured attacks, {dict(outcomes)}")
    assert outcomes["refused"] >= 5  # nesting, width, 5000 digits; a valid JSON object is a (default) LoRA config,
    # and a FIFO, device or directory leaves the folder without adapter config
