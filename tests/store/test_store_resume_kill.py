"""A run SIGKILLed at random points resumes with --resume and ends with exactly the rows of an
uninterrupted run: nothing lost, nothing duplicated."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from safetensors.numpy import save_file

NUM_LAYERS = 32
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # same arithmetic in every process


def _cli(*args):
    return [sys.executable, "-m", "netspectra.cli", "analyze", *map(str, args), "--quiet"]


def _layer_count(db):
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return con.execute("SELECT COUNT(*) FROM layers").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def _run_and_kill(model, db, target, resume):
    """Start the CLI, SIGKILL it once ``target`` layers are committed; return the count at the kill."""
    proc = subprocess.Popen(_cli(model, "--store", db, *(["--resume"] if resume else [])), env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None and _layer_count(db) < target:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the analysis finished before it could be killed"
    return _layer_count(db)


def _rows(db):
    with sqlite3.connect(db) as con:
        layers = con.execute("SELECT * FROM layers ORDER BY layer_index").fetchall()
        spectra = con.execute("SELECT layer_index, codec, count, data FROM spectra ORDER BY layer_index").fetchall()
        runs = con.execute("SELECT id, status FROM runs").fetchall()
    return layers, spectra, runs


@pytest.mark.parametrize("seed", [0])
def test_killed_run_resumes_to_the_same_rows(tmp_path, seed):
    rng = np.random.default_rng(seed)
    tensors = {f"layers.{i}.weight": rng.standard_normal((384, 192)).astype(np.float32) for i in range(NUM_LAYERS)}
    model = tmp_path / "model.safetensors"
    save_file(tensors, str(model))

    reference = tmp_path / "reference.db"
    subprocess.run(_cli(model, "--store", reference), env=ENV, check=True)

    db = tmp_path / "killed.db"
    first, second = sorted(rng.choice(np.arange(2, NUM_LAYERS - 8), size=2, replace=False))
    at_first_kill = _run_and_kill(model, db, first, resume=False)
    at_second_kill = _run_and_kill(model, db, max(second, at_first_kill + 1), resume=True)
    assert first <= at_first_kill < at_second_kill < NUM_LAYERS
    assert _rows(db)[2] == [(1, "running")]

    subprocess.run(_cli(model, "--store", db, "--resume"), env=ENV, check=True)
    layers, spectra, runs = _rows(db)
    ref_layers, ref_spectra, ref_runs = _rows(reference)
    assert runs == ref_runs == [(1, "complete")]
    assert len(layers) == NUM_LAYERS
    assert layers == ref_layers  # every column of every row, bit for bit (run id included: one run)
    assert spectra == ref_spectra
