"""SIGINT and SIGKILL at random points of ``compress`` and ``merge`` writing their output: the output is
either complete (byte for byte what an uninterrupted run writes) or absent.  After SIGINT no temporary
file is left either; after SIGKILL (nothing can clean up) a stale temporary file may remain, and the next
run still writes a correct output beside it.

The points are those where the reference run touched its output directory (opened, renamed, removed a
file, made a folder: :mod:`midrun`); each interrupted run stops at one of them, drawn with a fixed seed,
and waits there for its signal, so every run is signalled mid-run however busy the machine is."""

import filecmp
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import save_file

import midrun

ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
RUNS = [signal.SIGINT, signal.SIGKILL, signal.SIGINT, signal.SIGKILL]
#: What a writer does to its output directory (audit events).
WRITES = ["open", "os.rename", "os.remove", "os.mkdir"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("writers")
    rng = np.random.default_rng(5)
    for name in ("base", "a", "b"):  # small: the points are writes, not moments, so a long run buys nothing
        tensors = {f"layers.{i}.weight": rng.standard_normal((128, 96)).astype(np.float32) for i in range(8)}
        save_file(tensors, str(root / f"{name}.safetensors"))
    (root / "merge.yaml").write_text("base_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]\nmethod: star\n")
    return root


def _command(kind, root, out):
    if kind == "compress":
        return ["compress", str(root / "base.safetensors"), "--method", "bema", "--force", "-o", str(out), "--quiet"]
    return ["merge", str(root / "merge.yaml"), "-o", str(out), "--quiet"]


def _netspectra(args, **kwargs):
    return _popen([sys.executable, "-m", "netspectra_entry", *args], **kwargs)


def _popen(argv, **kwargs):
    return subprocess.Popen(
        argv,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _same_output(out, reference):
    if out.is_dir():
        comparison = filecmp.dircmp(out, reference, ignore=["netspectra_merge.json"])  # it records the output path
        return not (comparison.left_only or comparison.right_only or comparison.diff_files or comparison.funny_files)
    return filecmp.cmp(out, reference, shallow=False)


@pytest.mark.parametrize("kind", ["compress", "merge"])
@pytest.mark.slow
def test_interrupted_writer_leaves_complete_or_no_output(inputs, kind, tmp_path):
    (tmp_path / "reference").mkdir()
    reference, points = tmp_path / "reference" / "model.out", tmp_path / "points.log"
    listed = midrun.command(_command(kind, inputs, reference), events=WRITES, prefixes=[reference.parent], log=points)
    assert _popen(listed).wait(timeout=300) == 0
    count = len(points.read_text().splitlines())
    rng = np.random.default_rng(sum(map(ord, kind)))
    for i, signum in enumerate(RUNS):
        work, marker = tmp_path / f"run{i}", tmp_path / f"mid-run{i}"
        work.mkdir()
        out = work / "model.out"
        at = int(rng.integers(1, count + 1))
        where = f"{kind} {signal.Signals(signum).name} at write {at} of {count}"
        proc = _popen(midrun.command(_command(kind, inputs, out), marker, events=WRITES, prefixes=[work], count=at, pause=True))
        midrun.wait_for_marker(proc, marker)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == -signum, f"{where}: exit {proc.returncode}: {err}"  # it was running: the signal ended it
        if out.exists():  # published, then stopped: complete
            assert _same_output(out, reference), f"{where}: partial output"
            continue
        leftovers = [p.name for p in work.iterdir()]
        if signum == signal.SIGINT:
            assert err.strip().splitlines() == ["netspectra: interrupted"], f"{where}: {err}"
            assert leftovers == [], where
        else:
            assert all(name.startswith(".model.out") for name in leftovers), f"{where}: {leftovers}"
            assert _netspectra(_command(kind, inputs, out)).wait(timeout=300) == 0  # beside the stale file
            assert _same_output(out, reference), where
