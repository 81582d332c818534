"""``netspectra compress`` on the command line: options, table, totals, JSON, one-line errors."""

from __future__ import annotations

import argparse
import json

import pytest

from netspectra.commands import compress_cmd
from netspectra.errors import NetspectraError, UsageError
from netspectra.io.safetensors_file import SafetensorsFile


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="netspectra")
    compress_cmd.COMMAND.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["compress", *argv])


def test_table_and_totals(model_file, tmp_path, capsys):
    out = tmp_path / "small.safetensors"
    args = parse([str(model_file), "-o", str(out), "--method", "rank:2", "--shrink", "hard", "--quiet", "--force"])
    assert args.func(args) == 0 and capsys.readouterr().out == ""
    args = parse([str(model_file), "-o", str(out), "--method", "gavish-donoho", "--force"])
    assert args.func(args) == 0
    captured = capsys.readouterr()
    text = captured.out
    assert "function (not run: no config.json next to the weights): the data-free chain bound" in " ".join(text.split())
    assert captured.err.startswith("netspectra: warning: function (not run")  # written only because of --force
    assert "fc1.weight" in text and "rel err F" in text and "pred cos² u/v" in text
    assert "compression ratio" in text and "copied:" in text and "fused QKV tensor (1)" in text
    assert f"wrote {out} and {tmp_path / 'small.json'}" in " ".join(text.split())
    assert "fc1.weight.A" in SafetensorsFile(out).entries


def test_json_report(model_file, tmp_path, capsys):
    args = parse(
        [
            str(model_file),
            "-o",
            str(tmp_path / "o.safetensors"),
            "--method",
            "bema",
            "--shrink",
            "operator",
            "--json",
            "--exclude",
            "proj",
            "--force",
        ]
    )
    assert args.func(args) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["summary"]["function_judge"] == "bound" and document["summary"]["function_chain_bound"] > 0
    assert document["summary"]["method"] == "bema" and document["summary"]["shrink"] == "operator"
    assert {row["name"] for row in document["layers"]} == {"embed.weight", "fc1.weight", "fc2.weight"}
    assert all(row["shrink"] == "operator" for row in document["layers"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--method", "rank:x"], "rank:K"),
        (["--method", "energy:2"], "energy:F"),
        (["-o", "MODEL"], "refusing to overwrite"),
        (["-o", "/etc/hostname/o.safetensors"], "hostname is not a directory"),
    ],
)
def test_bad_input_is_a_one_line_netspectra_error(model_file, tmp_path, argv, message):
    argv = [a.replace("MODEL", str(model_file)) for a in argv]
    if "-o" not in argv:
        argv += ["-o", str(tmp_path / "o.safetensors")]
    args = parse([str(model_file), "--quiet", *argv])
    with pytest.raises(NetspectraError, match=message) as info:
        args.func(args)
    assert isinstance(info.value, UsageError) and "\n" not in str(info.value)


def test_missing_model_is_a_source_error(tmp_path):
    args = parse([str(tmp_path / "nope.safetensors"), "-o", str(tmp_path / "o.safetensors"), "--quiet"])
    with pytest.raises(NetspectraError, match="no such file"):
        args.func(args)


def test_argparse_rejects_unknown_shrinker_and_missing_output(model_file):
    with pytest.raises(SystemExit):
        parse([str(model_file), "-o", "x.safetensors", "--shrink", "soft"])
    with pytest.raises(SystemExit):
        parse([str(model_file)])


def test_destroying_a_model_is_refused_unless_forced(tmp_path, capsys):
    """A random matrix has no component above any RMT threshold: compress used to exit 0 and write zeros
    (a random GPT-2 came out all zeros).  Now it refuses with one line and writes nothing; --force writes
    it and says what was destroyed on stderr; the table shows each layer's energy kept."""
    import numpy as np
    from safetensors.numpy import save_file

    model = tmp_path / "random.safetensors"
    rng = np.random.default_rng(0)
    save_file(
        {
            "a.weight": rng.standard_normal((256, 128)).astype(np.float32),
            "b.weight": rng.standard_normal((128, 64)).astype(np.float32),
        },
        str(model),
    )
    out = tmp_path / "out.safetensors"
    args = parse([str(model), "-o", str(out), "--quiet"])
    with pytest.raises(NetspectraError, match=r"refused, nothing written: .*2 of 2 matrices destroyed \(2 zeroed") as info:
        args.func(args)
    assert "\n" not in str(info.value) and not out.exists() and not out.with_suffix(".json").exists()
    args = parse([str(model), "-o", str(out), "--force", "--dense"])
    assert args.func(args) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith("netspectra: warning: 2 of 2 matrices destroyed") and "energy kept" in captured.out
    assert set(SafetensorsFile(out).entries) == {"a.weight", "b.weight"}  # --dense: same names and shapes


def test_default_output_is_factored_and_smaller(model_file, tmp_path, capsys):
    """The default writes factors where they are smaller (a dense low-rank matrix saves nothing: 1.00x)."""
    out = tmp_path / "o.safetensors"
    args = parse([str(model_file), "-o", str(out), "--method", "energy:0.9", "--json", "--force"])
    assert args.func(args) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["factored"] and summary["compression_ratio"] > 1.2 and summary["num_destroyed"] == 0
    assert out.with_suffix(".json").exists()
