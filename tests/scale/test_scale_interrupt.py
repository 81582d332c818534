"""Ctrl-C and the process pool: workers never see SIGINT, leaving the pool on an exception terminates
them instead of waiting for the layers they are working on, and the Ctrl-C is acted on whichever
thread of the calling process the kernel hands the signal to."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from safetensors.numpy import save_file

from netspectra import analyze, analyze_many
from netspectra.scale import executor as executor_module
from netspectra.scale.executor import LocalExecutor
from netspectra.store import analyze_into_store
from store_progress import committed_layers

pytestmark = pytest.mark.hardening

SCRIPT = textwrap.dedent(
    """
    import faulthandler, os, signal, sys, threading, time
    from netspectra.scale import ProcessExecutor

    def busy(marker):
        open(marker, "x").close()  # this worker is in its task now
        time.sleep(600)

    def ctrl_c_once_busy(markers):
        while not all(map(os.path.exists, markers)):
            time.sleep(0.01)
        os.killpg(os.getpgid(0), signal.SIGINT)  # Ctrl-C: the whole process group, both workers in a task

    if __name__ == "__main__":
        faulthandler.dump_traceback_later(40, exit=True)  # a hang fails with every thread's stack
        pool = ProcessExecutor(2)
        markers = [os.path.join(sys.argv[2], f"busy{i}") for i in range(2)]
        threading.Thread(target=ctrl_c_once_busy, args=(markers,), daemon=True).start()
        try:
            with pool:
                if sys.argv[1] == "other":  # the kernel hands the signal to a thread that is not the main one
                    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # (after the pool's resource
                workers = pool._context.processes                              # tracker started: it unblocks)
                list(pool.map(busy, markers))  # the main thread waits for a result
        except KeyboardInterrupt:
            print("alive:", sum(p.is_alive() for p in workers), "exitcodes:", sorted(p.exitcode for p in workers))
    """
)


@pytest.mark.parametrize("taken_by", ["main", "other"])
def test_ctrl_c_terminates_busy_workers_quietly(tmp_path, taken_by):
    script = tmp_path / "ctrl_c.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), taken_by, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=60)  # far less than the tasks' 600 s: waiting for them fails here
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # leave no worker behind
        out, err = proc.communicate()
    assert out.strip() == "alive: 0 exitcodes: [-15, -15]", err
    assert err == ""  # no KeyboardInterrupt traceback from a worker


KILLED_PARENT = textwrap.dedent(
    """
    import os, sys, time
    from netspectra.scale import ProcessExecutor

    def busy(marker):
        open(marker, "x").close()  # this worker is in its task now
        time.sleep(600)

    if __name__ == "__main__":
        with ProcessExecutor(2) as pool:
            markers = [os.path.join(sys.argv[1], f"busy{i}") for i in range(2)]
            futures = [pool._pool.submit(busy, marker) for marker in markers]
            workers = pool._context.processes
            while not all(map(os.path.exists, markers)):
                time.sleep(0.01)
            print(*(p.pid for p in workers), flush=True)
            time.sleep(600)
    """
)


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for a reaper is not)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_end_when_their_parent_is_killed(tmp_path):
    """SIGKILL of the parent alone (the OOM killer's way), once both workers are in a task: its busy workers
    end too, instead of finishing their layer and then waiting forever on a queue that never reports
    end-of-file."""
    script = tmp_path / "killed_parent.py"
    script.write_text(KILLED_PARENT)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        workers = [int(pid) for pid in proc.stdout.readline().split()]
        assert len(workers) == 2 and all(map(_running, workers))
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(map(_running, workers)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(map(_running, workers)), "workers outlived their killed parent"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group
        except ProcessLookupError:
            pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("executor", ["process", "dask"])
@pytest.mark.slow
def test_ctrl_c_on_the_command_line_with_workers(tmp_path, executor):
    """``analyze --workers 2`` stopped by a Ctrl-C (SIGINT to the process group) once layers are coming
    back: one line, death by SIGINT, no output, and no process of the group left behind (a Dask
    worker used to print a KeyboardInterrupt traceback: the resource tracker's start unblocked SIGINT)."""
    if executor == "dask":
        pytest.importorskip("distributed")
    rng = np.random.default_rng(5)
    model, db, out = tmp_path / "model.safetensors", tmp_path / "run.db", tmp_path / "layers.csv"
    save_file({f"layers.{i}.weight": rng.standard_normal((384, 192)).astype(np.float32) for i in range(120)}, str(model))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "netspectra_entry",
            "analyze",
            str(model),
            "--store",
            str(db),
            "-o",
            str(out),
            "--quiet",
            "--executor",
            executor,
            "--workers",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        while proc.poll() is None and committed_layers(db) < 2:
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before its Ctrl-C"
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        deadline = time.monotonic() + 10
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _group_alive(proc.pid), "a process of the run outlived it"
    finally:
        if _group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
    assert (proc.returncode, err) == (-signal.SIGINT, "netspectra: interrupted\n")
    assert not out.exists()


class _InterruptedAtShutdown(LocalExecutor):
    """Runs the layers here; a Ctrl-C lands while it shuts down (as it may while a pool's workers stop)."""

    def __exit__(self, *exc: object) -> None:
        raise KeyboardInterrupt


@pytest.mark.parametrize("entry", ["analyze", "analyze_many", "analyze_into_store"])
def test_a_ctrl_c_while_the_executor_shuts_down_ends_the_run(tmp_path, monkeypatch, entry):
    """An executor made by name is closed in the caller's flow once the last layer is in, not in the
    finalizer of a generator left at its last ``yield``, where a KeyboardInterrupt is printed as
    "Exception ignored" and lost: the command line then wrote its output and said "interrupted"."""
    rng = np.random.default_rng(3)
    model = tmp_path / "model.safetensors"
    save_file({f"layers.{i}.weight": rng.standard_normal((48, 32)).astype(np.float32) for i in range(3)}, str(model))
    monkeypatch.setattr(executor_module, "make_executor", lambda *args, **kwargs: _InterruptedAtShutdown())
    runs = {
        "analyze": lambda: analyze(model, executor="local"),
        "analyze_many": lambda: analyze_many([model, model], executor="local"),
        "analyze_into_store": lambda: analyze_into_store(model, tmp_path / "run.db", executor="local"),
    }
    with pytest.raises(KeyboardInterrupt):
        runs[entry]()
