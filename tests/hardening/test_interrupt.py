"""Interruption: SIGINT ends ``netspectra analyze`` with one line, death by SIGINT, and no output file;
SIGKILL leaves no output file either (outputs are written atomically at the end).  Each signal is sent
once the run says it is mid-run (:mod:`midrun`), and each test checks that the signal ended it."""

import os
import shlex
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import save_file

import midrun


@pytest.fixture(scope="module")
def slow_model(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("slow") / "model.safetensors"
    save_file({f"layers.{i}.weight": rng.standard_normal((1024, 768)).astype(np.float32) for i in range(40)}, str(path))
    return path


def _point(name, model):
    """Where a run is signalled: while it imports NumPy (Ctrl-C among the imports), or once it has read the
    model's header (its 40 layers ahead: seconds of work)."""
    if name == "importing":
        return dict(events=["import"], prefixes=["numpy"])
    return dict(events=["open"], prefixes=[model])


def _start(model, out, marker, point):
    return subprocess.Popen(
        midrun.command(["analyze", model, "-o", out, "--quiet"], marker, **_point(point, model)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("point", ["importing", "analyzing"])
def test_sigint_leaves_no_output(slow_model, tmp_path, point):
    work, marker = tmp_path / "work", tmp_path / "mid-run"
    work.mkdir()
    proc = _start(slow_model, work / "layers.csv", marker, point)
    midrun.wait_for_marker(proc, marker)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGINT, err  # killed by it ($? = 130): a shell loop stops too
    assert err.strip().splitlines() == ["netspectra: interrupted"]
    assert os.listdir(work) == []


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_ctrl_c_stops_a_shell_loop(slow_model, tmp_path):
    """bash goes on with a loop when its child exits 130 and stops when the child died of SIGINT (the
    terminal sends a Ctrl-C to the whole foreground group: bash and the running command)."""
    work, marker = tmp_path / "work", tmp_path / "mid-run"
    work.mkdir()
    command = shlex.join(midrun.command(["analyze", slow_model, "--quiet"], marker, **_point("analyzing", slow_model)))
    loop = f'for out in a b c; do {command} -o "$out.csv"; echo "after $out: $?"; done'
    proc = subprocess.Popen(
        ["bash", "-c", loop], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        midrun.wait_for_marker(proc, marker)  # within the first run
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert (proc.returncode, out) == (-signal.SIGINT, ""), err  # no "after a: 130", no run b
    assert err == "netspectra: interrupted\n"
    assert os.listdir(work) == []


def test_sigkill_leaves_no_output(slow_model, tmp_path):
    out, marker = tmp_path / "layers.csv", tmp_path / "mid-run"
    proc = _start(slow_model, out, marker, "analyzing")
    midrun.wait_for_marker(proc, marker)
    proc.kill()
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL  # it was still running
    assert not out.exists()


def _interrupted_import(**_):
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

    def broken(**_):
        raise ImportError("no module named x")

    monkeypatch.setattr(cli, "build_parser", broken)
    with pytest.raises(ImportError, match="no module named x"):
        netspectra_entry.run([])


def test_an_import_error_that_lost_its_ctrl_c_is_an_interruption(monkeypatch, capsys):
    """NumPy interrupted while it imports ``datetime`` through ``PyCapsule_Import`` raises a bare ImportError
    whose chain no longer holds the KeyboardInterrupt (seen in CI): the handler's note of the Ctrl-C decides."""
    import netspectra_entry
    from netspectra import cli

    def lost_interrupt(**_):
        raise ImportError('PyCapsule_Import could not import module "datetime"')

    monkeypatch.setattr(cli, "build_parser", lost_interrupt)
    monkeypatch.setattr(netspectra_entry, "_sigint_received", True)
    assert netspectra_entry.run([]) == 130
    assert capsys.readouterr().err == "netspectra: interrupted\n"


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
