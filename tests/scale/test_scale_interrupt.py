"""Ctrl-C and the process pool: workers never see SIGINT, leaving the pool on an exception terminates
them instead of waiting for the layers they are working on, and the Ctrl-C is acted on whichever
thread of the calling process the kernel hands the signal to."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import faulthandler, os, signal, sys, threading, time
    from netspectra.scale import ProcessExecutor

    def ctrl_c_once_busy(pool):
        while pool._context is None or len(pool._context.processes) < 2:
            time.sleep(0.05)
        workers = pool._context.processes
        while not all(p.is_alive() for p in workers):
            time.sleep(0.05)
        time.sleep(1.0)  # both are sleeping in a task now
        os.killpg(os.getpgid(0), signal.SIGINT)  # Ctrl-C: the whole process group

    if __name__ == "__main__":
        faulthandler.dump_traceback_later(40, exit=True)  # a hang fails with every thread's stack
        pool = ProcessExecutor(2)
        threading.Thread(target=ctrl_c_once_busy, args=(pool,), daemon=True).start()
        try:
            with pool:
                if sys.argv[1] == "other":  # the kernel hands the signal to a thread that is not the main one
                    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # (after the pool's resource
                workers = pool._context.processes                              # tracker started: it unblocks)
                list(pool.map(time.sleep, [600, 600]))  # the main thread waits for a result
        except KeyboardInterrupt:
            print("alive:", sum(p.is_alive() for p in workers), "exitcodes:", sorted(p.exitcode for p in workers))
    """
)


@pytest.mark.parametrize("taken_by", ["main", "other"])
def test_ctrl_c_terminates_busy_workers_quietly(tmp_path, taken_by):
    script = tmp_path / "ctrl_c.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), taken_by], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip
    try:
        out, err = proc.communicate(timeout=60)  # far less than the tasks' 600 s: waiting for them fails here
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # leave no worker behind
        out, err = proc.communicate()
    assert out.strip() == "alive: 0 exitcodes: [-15, -15]", err
    assert err == ""  # no KeyboardInterrupt traceback from a worker
