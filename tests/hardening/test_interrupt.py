"""Interruption: SIGINT ends ``netspectra analyze`` with one line, death by SIGINT, and no output file;
SIGKILL leaves no output file either (outputs are written atomically at the end)."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from safetensors.numpy import save_file


@pytest.fixture(scope="module")
def slow_model(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("slow") / "model.safetensors"
    save_file({f"layers.{i}.weight": rng.standard_normal((1024, 768)).astype(np.float32) for i in range(40)}, str(path))
    return path


def _start(model, out):
    return subprocess.Popen(
        [sys.executable, "-m", "netspectra_entry", "analyze", str(model), "-o", str(out), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.parametrize("delay", [0.5, 2.0])
def test_sigint_leaves_no_output(slow_model, tmp_path, delay):
    out = tmp_path / "layers.csv"
    proc = _start(slow_model, out)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:  # finished before the signal: then the output must be complete
        assert len(out.read_text().splitlines()) == 41
        return
    assert proc.returncode == -signal.SIGINT, err  # killed by it ($? = 130): a shell loop stops too
    assert err.strip().splitlines() == ["netspectra: interrupted"]
    assert os.listdir(tmp_path) == []


def test_sigkill_leaves_no_output(slow_model, tmp_path):
    out = tmp_path / "layers.csv"
    proc = _start(slow_model, out)
    time.sleep(1.5)
    proc.kill()
    proc.wait(timeout=60)
    assert not out.exists()


def _interrupted_import():
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as exc:  # what a C extension's module init turns a Ctrl-C into
        raise ImportError("initialization failed") from exc


def test_ctrl_c_inside_a_c_extension_import_is_an_interruption(monkeypatch, capsys):
    from netspectra import cli

    monkeypatch.setattr(cli, "build_parser", _interrupted_import)
    assert cli.main([]) == 130
    assert capsys.readouterr().err == "netspectra: interrupted\n"


def test_other_import_errors_are_not_taken_for_interruptions(monkeypatch):
    from netspectra import cli

    def broken():
        raise ImportError("no module named x")

    monkeypatch.setattr(cli, "build_parser", broken)
    with pytest.raises(ImportError, match="no module named x"):
        cli.main([])
