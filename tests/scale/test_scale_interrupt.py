"""Ctrl-C and the process pool: workers never see SIGINT, and leaving the pool on an exception
terminates them instead of waiting for the layers they are working on."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, time
    from netspectra.scale import ProcessExecutor

    if __name__ == "__main__":
        pool = ProcessExecutor(2)
        try:
            with pool:
                futures = [pool._pool.submit(time.sleep, 600) for _ in range(2)]
                workers = pool._context.processes
                while len(workers) < 2 or not all(p.is_alive() for p in workers):
                    time.sleep(0.05)
                time.sleep(1.0)  # both are sleeping in a task now
                os.killpg(os.getpgid(0), signal.SIGINT)  # Ctrl-C: the whole process group
                time.sleep(600)  # interrupted by it
        except KeyboardInterrupt:
            print("alive:", sum(p.is_alive() for p in workers), "exitcodes:", sorted(p.exitcode for p in workers))
    """
)


def test_ctrl_c_terminates_busy_workers_quietly(tmp_path):
    script = tmp_path / "ctrl_c.py"
    script.write_text(SCRIPT)
    # 60 s: far less than the tasks' 600 s, so waiting for them would fail here.
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                          start_new_session=True)  # fmt: skip
    assert done.stdout.strip() == "alive: 0 exitcodes: [-15, -15]", done.stderr
    assert done.stderr == ""  # no KeyboardInterrupt traceback from a worker
