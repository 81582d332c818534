"""``netspectra analyze --store/--resume`` and ``netspectra runs`` as a user runs them."""

import json

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import save_file

from netspectra.cli import main
from netspectra.diagnose.row import LayerReport
from netspectra.io import content_hash


@pytest.fixture()
def model(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "model.safetensors"
    save_file({f"fc{i}.weight": rng.standard_normal((80, 40)).astype(np.float32) for i in range(3)}, str(path))
    return path


def test_analyze_into_the_default_store_then_list_and_show(model, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["analyze", str(model), "--store"]) == 0
    assert "computed run 1 in netspectra.db" in capsys.readouterr().err
    assert main(["analyze", str(model), "--resume"]) == 0  # --resume implies the default store
    assert "cached run 1 in netspectra.db" in capsys.readouterr().err
    assert main(["runs"]) == 0
    listing = capsys.readouterr().out
    assert "complete" in listing and content_hash(model)[:8] in listing
    assert main(["runs", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["status"], r["num_layers"], r["format"]) for r in runs] == [(1, "complete", 3, "safetensors")]
    out = tmp_path / "layers.csv"
    assert main(["runs", "--show", "1", "-o", str(out), "--json"]) == 0
    assert [layer["name"] for layer in json.loads(capsys.readouterr().out)["layers"]] == [
        "fc0.weight",
        "fc1.weight",
        "fc2.weight",
    ]
    assert list(pd.read_csv(out).columns) == LayerReport.columns()


def _results(document: dict) -> dict:
    """The JSON without the run's measured cost (wall time and peak memory: of this run, not of the weights)."""
    summary = {k: v for k, v in document["summary"].items() if k not in ("wall_seconds", "peak_rss_mib")}
    return {**document, "summary": summary}


def test_json_output_is_unchanged_by_the_store(model, tmp_path, capsys):
    assert main(["analyze", str(model), "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["summary"]["wall_seconds"] > 0
    for _ in range(2):  # computed, then served from the store
        assert main(["analyze", str(model), "--json", "--store", str(tmp_path / "s.db")]) == 0
        assert _results(json.loads(capsys.readouterr().out)) == _results(plain)


@pytest.mark.parametrize(
    "args, message",
    [
        (["runs", "--store", "{tmp}/missing.db"], "no such store"),
        (["runs", "--store", "{tmp}/junk.db"], "not a netspectra store: file is not a database"),
        (["analyze", "{model}", "--store", "{tmp}/junk.db"], "not a netspectra store: file is not a database"),
        (["runs", "--store", "{tmp}/empty.db", "--show", "7"], "no run 7"),
    ],
)
def test_store_errors_are_one_line(model, tmp_path, capsys, args, message):
    (tmp_path / "junk.db").write_bytes(b"\x00garbage" * 64)
    (tmp_path / "empty.db").touch()
    assert main([a.format(tmp=tmp_path, model=model) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
