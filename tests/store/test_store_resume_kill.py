"""A run SIGKILLed at random points resumes with --resume and ends with exactly the rows of an
uninterrupted run: nothing lost, nothing duplicated."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
from safetensors.numpy import save_file

NUM_LAYERS = 32
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # same arithmetic in every process


def _layer_count(db):
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return con.execute("SELECT COUNT(*) FROM layers").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def _run_and_kill(model, db, target):
    """Start ``analyze --store``, SIGKILL it once ``target`` layers are committed; return the count then."""
    proc = subprocess.Popen([sys.executable, "-m", "netspectra.cli", "analyze", str(model), "--store", str(db), "--quiet"],
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def test_killed_run_resumes_to_the_same_rows(tmp_path):
    rng = np.random.default_rng(7)
    tensors = {f"layers.{i}.weight": rng.standard_normal((384, 192)).astype(np.float32) for i in range(NUM_LAYERS)}
    model = tmp_path / "model.safetensors"
    save_file(tensors, str(model))
    db, reference = tmp_path / "killed.db", tmp_path / "reference.db"

    target = int(rng.integers(2, NUM_LAYERS - 8))
    at_kill = _run_and_kill(model, db, target)
    assert target <= at_kill < NUM_LAYERS
    assert _rows(db)[2] == [(1, "running")]

    # One process: the uninterrupted reference run, then the resumption of the killed one.
    script = (
        "import sys; from netspectra.cli import main; "
        "sys.exit(main(sys.argv[1:5]) or main(sys.argv[5:]))"
    )
    subprocess.run([sys.executable, "-c", script, "analyze", str(model), "--store", str(reference),
                    "analyze", str(model), "--store", str(db), "--resume"], env=ENV, check=True,
                   stdout=subprocess.DEVNULL)
    layers, spectra, runs = _rows(db)
    ref_layers, ref_spectra, ref_runs = _rows(reference)
    assert runs == ref_runs == [(1, "complete")]
    assert len(layers) == NUM_LAYERS
    assert layers == ref_layers  # every column of every row, bit for bit (run id included: one run)
    assert spectra == ref_spectra
