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

from store_progress import committed_layers

pytestmark = [pytest.mark.hardening, pytest.mark.slow]

NUM_LAYERS = 64
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # same arithmetic in every process


def _run_and_kill(model, db, target):
    """Start ``analyze --store``, SIGKILL it once ``target`` layers are committed; return the count then."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "netspectra", "analyze", str(model), "--store", str(db), "--quiet"],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while proc.poll() is None and committed_layers(db) < target:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the analysis finished before it could be killed"
    return committed_layers(db)


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

    target = int(rng.integers(2, NUM_LAYERS // 2))  # half the layers left: the run cannot end before its kill
    at_kill = _run_and_kill(model, db, target)
    assert target <= at_kill < NUM_LAYERS
    assert _rows(db)[2] == [(1, "running")]

    # One process: the uninterrupted reference run, then the resumption of the killed one.
    script = "import sys; from netspectra.cli import main; sys.exit(main(sys.argv[1:5]) or main(sys.argv[5:]))"
    subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "analyze",
            str(model),
            "--store",
            str(reference),
            "analyze",
            str(model),
            "--store",
            str(db),
            "--resume",
        ],
        env=ENV,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    layers, spectra, runs = _rows(db)
    ref_layers, ref_spectra, ref_runs = _rows(reference)
    assert runs == ref_runs == [(1, "complete")]
    assert len(layers) == NUM_LAYERS
    assert layers == ref_layers  # every column of every row, bit for bit (run id included: one run)
    assert spectra == ref_spectra


def _spawn(model, db, *extra):
    """``analyze --store`` in a session of its own, so that a signal reaches it and its workers alike."""
    return subprocess.Popen(
        [sys.executable, "-m", "netspectra_entry", "analyze", str(model), "--store", str(db), "--quiet", *extra],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _consistent(db):
    """Every committed layer has its spectrum, and no run is complete."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        layers = con.execute("SELECT layer_index FROM layers ORDER BY layer_index").fetchall()
        spectra = con.execute("SELECT layer_index FROM spectra ORDER BY layer_index").fetchall()
        runs = con.execute("SELECT id, status FROM runs").fetchall()
    assert layers == spectra
    assert runs == [(1, "running")]
    return len(layers)


def test_sigint_and_sigkill_at_random_points_then_resume(tmp_path):
    """Serial and pooled runs, each stopped by SIGINT (Ctrl-C: the whole process group) or SIGKILL at a
    random number of committed layers; after each stop the output file is absent and the store is
    consistent; the last --resume ends with the rows and the CSV of an uninterrupted run."""
    rng = np.random.default_rng(11)
    num_layers = 80  # about 3 s of layers left after the last stop: the run cannot end before its signal
    tensors = {f"layers.{i}.weight": rng.standard_normal((384, 192)).astype(np.float32) for i in range(num_layers)}
    model = tmp_path / "model.safetensors"
    save_file(tensors, str(model))
    db, out = tmp_path / "interrupted.db", tmp_path / "layers.csv"
    reference_db, reference_csv = tmp_path / "reference.db", tmp_path / "reference.csv"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "netspectra_entry",
            "analyze",
            str(model),
            "--store",
            str(reference_db),
            "--quiet",
            "-o",
            str(reference_csv),
        ],
        env=ENV,
        check=True,
    )

    plan = [
        (signal.SIGKILL, ()),
        (signal.SIGINT, ("--resume", "--workers", "2")),
        (signal.SIGINT, ("--resume",)),
        (signal.SIGKILL, ("--resume", "--workers", "2")),
    ]
    committed = 0
    for signum, extra in plan:
        target = committed + int(rng.integers(2, 8))
        proc = _spawn(model, db, "-o", str(out), *extra)
        try:
            while proc.poll() is None and committed_layers(db) < target:
                time.sleep(0.002)
            assert proc.poll() is None, f"the run ended before its {signum.name}"
            os.killpg(proc.pid, signum)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        if signum == signal.SIGINT:
            assert proc.returncode == -signal.SIGINT, err
            assert err.strip().splitlines() == ["netspectra: interrupted"]
        else:
            assert proc.returncode == -signal.SIGKILL
        assert not out.exists()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".layers")] == []  # no temp file
        now = _consistent(db)
        assert target <= now < num_layers, (signum, extra, now)
        committed = now

    subprocess.run(
        [
            sys.executable,
            "-m",
            "netspectra_entry",
            "analyze",
            str(model),
            "--store",
            str(db),
            "--resume",
            "--quiet",
            "-o",
            str(out),
        ],
        env=ENV,
        check=True,
    )
    assert out.read_text() == reference_csv.read_text()
    layers, spectra, runs = _rows(db)
    ref_layers, ref_spectra, ref_runs = _rows(reference_db)
    assert runs == ref_runs == [(1, "complete")]
    assert layers == ref_layers and spectra == ref_spectra
