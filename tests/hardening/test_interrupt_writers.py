"""SIGINT and SIGKILL at random points of ``compress`` and ``merge``: the output is either complete
(byte for byte what an uninterrupted run writes) or absent.  After SIGINT no temporary file is left
either; after SIGKILL (nothing can clean up) a stale temporary file may remain, and the next run still
writes a correct output beside it."""

import filecmp
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from safetensors.numpy import save_file

ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
RUNS = [signal.SIGINT, signal.SIGKILL, signal.SIGINT, signal.SIGKILL]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("writers")
    rng = np.random.default_rng(5)
    for name in ("base", "a", "b"):
        tensors = {f"layers.{i}.weight": rng.standard_normal((384, 256)).astype(np.float32) for i in range(24)}
        save_file(tensors, str(root / f"{name}.safetensors"))
    (root / "merge.yaml").write_text("base_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]\nmethod: star\n")
    return root


def _command(kind, root, out):
    if kind == "compress":
        return ["compress", str(root / "base.safetensors"), "--method", "bema", "--force", "-o", str(out), "--quiet"]
    return ["merge", str(root / "merge.yaml"), "-o", str(out), "--quiet"]


def _netspectra(args, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "netspectra_entry", *args],
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
def test_interrupted_writer_leaves_complete_or_no_output(inputs, kind, tmp_path):
    reference = tmp_path / "reference.out"
    started = time.monotonic()
    assert _netspectra(_command(kind, inputs, reference)).wait(timeout=300) == 0
    duration = time.monotonic() - started
    rng = np.random.default_rng(sum(map(ord, kind)))
    outcomes = []
    for i, signum in enumerate(RUNS):
        work = tmp_path / f"run{i}"
        work.mkdir()
        out = work / "model.out"
        proc = _netspectra(_command(kind, inputs, out))
        time.sleep(float(rng.uniform(0.3, 1.1)) * duration)  # from the imports to just past the end
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
        outcomes.append(proc.returncode)
        if proc.returncode == 0 or out.exists():  # finished (or published, then was stopped): complete
            assert _same_output(out, reference), f"{kind} {signal.Signals(signum).name}: partial output"
            continue
        leftovers = [p.name for p in work.iterdir()]
        if signum == signal.SIGINT:
            assert proc.returncode == -signal.SIGINT and err.strip().splitlines() == ["netspectra: interrupted"], err
            assert leftovers == []
        else:
            assert proc.returncode == -signal.SIGKILL
            assert all(name.startswith(".model.out") for name in leftovers), leftovers
            assert _netspectra(_command(kind, inputs, out)).wait(timeout=300) == 0  # beside the stale file
            assert _same_output(out, reference)
    assert outcomes.count(0) < len(RUNS), f"every run finished before its signal: {outcomes}"
