"""Interruption: SIGINT ends ``netspectra analyze`` with one line, death by SIGINT, and no output file;
SIGKILL leaves no output file either (outputs are written atomically at the end)."""

import os
import shlex
import shutil
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
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
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


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_ctrl_c_stops_a_shell_loop(slow_model, tmp_path):
    """bash goes on with a loop when its child exits 130 and stops when the child died of SIGINT (the
    terminal sends a Ctrl-C to the whole foreground group: bash and the running command)."""
    command = f"{shlex.quote(sys.executable)} -m netspectra_entry analyze {shlex.quote(str(slow_model))} --quiet"
    loop = f'for out in a b c; do {command} -o "$out.csv"; echo "after $out: $?"; done'
    proc = subprocess.Popen(
        ["bash", "-c", loop], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    time.sleep(1.2)  # within the first run (imports, then 40 layers: 4 to 6 s here)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, out) == (-signal.SIGINT, ""), err  # no "after a: 130", no run b
    assert err == "netspectra: interrupted\n"
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
    import netspectra_entry
    from netspectra import cli

    monkeypatch.setattr(cli, "build_parser", _interrupted_import)
    assert netspectra_entry.run([]) == 130
    assert capsys.readouterr().err == "netspectra: interrupted\n"


def test_other_import_errors_are_not_taken_for_interruptions(monkeypatch):
    import netspectra_entry
    from netspectra import cli

    def broken():
        raise ImportError("no module named x")

    monkeypatch.setattr(cli, "build_parser", broken)
    with pytest.raises(ImportError, match="no module named x"):
        netspectra_entry.run([])


SWALLOWED = """
import os, signal, sys, time
import netspectra.cli, netspectra_entry

def swallowing_command(argv=None):
    try:  # what a library's bare except around an optional import does to a Ctrl-C
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    except:  # noqa: E722
        pass
    print("finished")
    return 0

netspectra.cli.main = swallowing_command
sys.exit(netspectra_entry.main())
"""


def test_a_swallowed_ctrl_c_still_ends_the_run():
    done = subprocess.run([sys.executable, "-c", SWALLOWED], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (-signal.SIGINT, "finished\n", "netspectra: interrupted\n")
