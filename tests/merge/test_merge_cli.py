"""``netspectra merge`` and ``netspectra merge-check`` end to end, through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from merge_testbed import small_model, write_model

from netspectra.cli import main
from netspectra.io.safetensors_file import SafetensorsFile


@pytest.fixture
def family(tmp_path: Path) -> Path:
    base = small_model(0)
    write_model(tmp_path / "base", base, n_shards=2, config={"model_type": "tiny"})
    write_model(tmp_path / "a", small_model(1, base=base), n_shards=2)
    write_model(tmp_path / "b", small_model(2, base=base), n_shards=2)
    (tmp_path / "merge.yaml").write_text(
        "base_model: base\n"
        "models:\n  - {path: a, weight: 1.0}\n  - {path: b, weight: 1.0}\n"
        "method: spectral-auto\n"
        "overrides:\n  - match: '^fc2\\.'\n    method: ties\n    parameters: {density: 0.5}\n"
    )
    return tmp_path


def test_merge_prints_every_choice_and_writes_the_model(family, capsys):
    assert main(["merge", str(family / "merge.yaml"), "-o", str(family / "out")]) == 0
    out = capsys.readouterr().out
    assert "netspectra merge (spectral-auto)" in out
    for text in (
        "fc1.weight",
        "spectral-auto:",
        "fc2.weight",
        "override ^fc2\\.",
        "density=0.5",
        "not 2-D",
        "position_ids",
        "copy",
        "wrote",
    ):
        assert text in out, text
    names = sorted(p.name for p in (family / "out").iterdir())
    assert names == [
        "config.json",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "model.safetensors.index.json",
        "netspectra_merge.json",
    ]


def test_merge_json_and_dtype(family, capsys):
    assert main(["merge", str(family / "merge.yaml"), "-o", str(family / "out"), "--json", "--dtype", "f16"]) == 0
    log = json.loads(capsys.readouterr().out)
    rules = {x["name"]: x["rule"] for x in log["layers"]}
    assert rules["fc2.weight"] == "ties" and rules["position_ids"] == "copy"
    assert rules["fc1.weight"] in ("average", "star", "tsv")
    auto = next(x for x in log["layers"] if x["name"] == "fc1.weight")
    assert auto["verdict"] in ("compatible", "caution", "incompatible") and auto["interference"] is not None
    dtypes = {e.dtype for f in (family / "out").glob("*.safetensors") for e in SafetensorsFile(f).entries.values()}
    assert dtypes == {"F16", "I64"}


def test_merge_errors_are_one_line_and_leave_nothing(family, capsys):
    write_model(family / "c", {k: v for k, v in small_model(3).items() if k != "norm.weight"})
    config = family / "bad.yaml"
    config.write_text("models: [a, c]\nmethod: linear\n")
    assert main(["merge", str(config), "-o", str(family / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "tensor 'norm.weight' is missing from" in err
    assert not (family / "out").exists()
    config.write_text("models: [a, b]\nmethod: star\n")
    assert main(["merge", str(config), "-o", str(family / "out")]) == 2
    assert "needs base_model" in capsys.readouterr().err


def test_merge_check_table_and_outputs(family, capsys, tmp_path):
    args = ["merge-check", str(family / "a"), str(family / "b"), "--base", str(family / "base")]
    assert main([*args, "-o", str(tmp_path / "check.csv")]) == 0
    out = capsys.readouterr().out
    assert "netspectra merge-check" in out and "model verdict:" in out and "fc1.weight" in out
    frame = pd.read_csv(tmp_path / "check.csv")
    assert list(frame["name"]) == ["fc1.weight", "fc2.weight"]  # the conv kernel and 1-D tensors are not compared
    assert set(frame["verdict"]) <= {"compatible", "caution", "incompatible"}
    assert {"erank_spread", "spectral_norm_ratio", "sigma2_ratio", "rel_distance", "interference"} <= set(frame.columns)
    assert main([*args, "-o", str(tmp_path / "check.json"), "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    report = json.loads((tmp_path / "check.json").read_text())
    assert report["summary"]["num_layers"] == 2 and report["summary"]["num_other"] == 4
    assert report["summary"]["verdict"] in ("compatible", "caution", "incompatible")
    assert report["thresholds"]["interference"] == 0.1


def test_merge_check_from_a_config_and_without_base(family, capsys):
    assert main(["merge-check", "--config", str(family / "merge.yaml"), "--json"]) == 0
    with_base = json.loads(capsys.readouterr().out)
    assert with_base["summary"]["base"] == str(family / "base")
    assert all(x["interference"] is not None for x in with_base["layers"])
    assert main(["merge-check", str(family / "a"), str(family / "b")]) == 0
    assert "no --base: task-vector interference not measured" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["merge-check", "a"], "at least two models"),
        (["merge-check", "a", "b", "--config", "merge.yaml"], "not both"),
        (["merge-check", "a", "b", "-o", "report.txt"], "unknown output format"),
        (["merge", "missing.yaml", "-o", "out"], "cannot read the merge configuration"),
    ],
)
def test_usage_errors(family, capsys, monkeypatch, args, message):
    monkeypatch.chdir(family)
    assert main(args) == 2
    assert message in capsys.readouterr().err
