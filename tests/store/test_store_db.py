"""The results store: round trip, reuse without recomputation, resume, constraints, bad files."""

import importlib
import sqlite3

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import save_file

from netspectra.diagnose.options import AnalysisOptions
from netspectra.diagnose.row import LayerReport
from netspectra.io import content_hash, iter_weight_matrices
from netspectra.pipeline import analyze, analyze_matrix
from netspectra.spec import AnalysisSpec
from netspectra.store import ModelInfo, Store, StoreError, analyze_into_store


@pytest.fixture()
def model(tmp_path):
    rng = np.random.default_rng(1)
    tensors = {f"blocks.{i}.fc.weight": rng.standard_normal((96, 48)).astype(np.float32) for i in range(5)}
    tensors["blocks.5.bad.weight"] = np.full((8, 8), np.nan, np.float32)  # an error row, no spectrum
    path = tmp_path / "model.safetensors"
    save_file(tensors, str(path))
    return path


@pytest.fixture()
def counted(monkeypatch):
    """Count the layers the store pipeline analyzes."""
    calls = []

    def counting(weight, spec):
        calls.append(weight.name)
        return analyze_matrix(weight, spec)

    # The store's layers go through netspectra.pipeline.analyze_weights, which looks analyze_matrix up there.
    monkeypatch.setattr(importlib.import_module("netspectra.pipeline"), "analyze_matrix", counting)
    return calls


def test_round_trip_equals_a_plain_analysis(model, tmp_path):
    result = analyze_into_store(model, tmp_path / "s.db")
    reference = analyze(model)
    pd.testing.assert_frame_equal(result.report.to_frame(), reference.to_frame())
    for stored, fresh in zip(result.report.layers, reference.layers):
        if fresh.eigenvalues is None:
            assert stored.eigenvalues is None and stored.status == "error"
        else:
            assert stored.eigenvalues.dtype == np.float64
            np.testing.assert_array_equal(stored.eigenvalues, fresh.eigenvalues)
    with sqlite3.connect(tmp_path / "s.db") as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(layers)")]
        assert columns == ["run_id", *LayerReport.columns(), "seal"]
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT COUNT(*) FROM spectra").fetchone()[0] == 5
        assert db.execute("SELECT content_hash FROM models").fetchall() == [(content_hash(model),)]


def test_unchanged_model_is_served_from_the_store(model, tmp_path, counted):
    db = tmp_path / "s.db"
    first = analyze_into_store(model, db)
    assert (first.status, first.num_computed, len(counted)) == ("computed", 6, 6)
    again = analyze_into_store(model, db)
    assert (again.status, again.num_computed, again.run_id, len(counted)) == ("cached", 0, first.run_id, 6)
    pd.testing.assert_frame_equal(again.report.to_frame(), first.report.to_frame())
    run_id, report = again  # unpacks as (run_id, report)
    assert run_id == first.run_id and report is again.report


def test_other_options_or_other_content_make_a_new_run(model, tmp_path, counted):
    db = tmp_path / "s.db"
    first = analyze_into_store(model, db)
    other = analyze_into_store(model, db, options=AnalysisOptions(tw_level=0.99))
    assert other.status == "computed" and other.run_id != first.run_id
    filtered = analyze_into_store(model, db, include="blocks.1")
    assert filtered.status == "computed" and len(filtered.report.layers) == 1
    save_file({"blocks.0.fc.weight": np.ones((96, 48), np.float32)}, str(model))  # same path, new content
    changed = analyze_into_store(model, db)
    assert changed.status == "computed" and len(changed.report.layers) == 1
    assert len(Store(db).list_runs()) == 4


def _partial_run(store, model, done):
    """A run killed after ``done`` layers: what a crashed process leaves behind."""
    settings = AnalysisSpec().identity()
    info = ModelInfo(content_hash(model), str(model), "safetensors")
    run_id = store.begin_run(str(model), settings, model=info)
    for weight in list(iter_weight_matrices(model, min_dim=1))[:done]:
        store.record_layer(run_id, analyze_matrix(weight))
    return run_id


def test_resume_continues_the_interrupted_run(model, tmp_path, counted):
    store = Store(tmp_path / "s.db")
    run_id = _partial_run(store, model, done=2)
    assert store.get_run(run_id).status == "running" and store.get_run(run_id).num_layers == 2
    result = analyze_into_store(model, store, resume=True)
    assert (result.run_id, result.status, result.num_computed) == (run_id, "resumed", 4)
    assert counted == [w.name for w in iter_weight_matrices(model, min_dim=1)][2:]
    pd.testing.assert_frame_equal(result.report.to_frame(), analyze(model).to_frame())
    assert [r.status for r in store.list_runs()] == ["complete"]


def test_without_resume_an_interrupted_run_is_left_alone(model, tmp_path):
    store = Store(tmp_path / "s.db")
    stale = _partial_run(store, model, done=2)
    result = analyze_into_store(model, store)
    assert result.status == "computed" and result.run_id != stale
    assert store.get_run(stale).status == "running" and store.get_run(stale).num_layers == 2


def test_a_layer_cannot_be_stored_twice(model, tmp_path):
    store = Store(tmp_path / "s.db")
    run_id = _partial_run(store, model, done=1)
    layer = store.load_report(run_id).layers[0]
    with pytest.raises(StoreError, match=f"cannot store layer {layer.name}.*UNIQUE"):
        store.record_layer(run_id, layer)
    assert store.get_run(run_id).num_layers == 1


def test_record_run_keeps_step_and_label(model, tmp_path):
    store = Store(tmp_path / "s.db")
    report = analyze(model)
    run_id = store.record_run(report, {"min_dim": 1}, step=300, label="mlp")
    run = store.get_run(run_id)
    assert (run.status, run.step, run.label, run.num_layers, run.content_hash) == ("complete", 300, "mlp", 6, None)
    assert store.load_report(run_id).source == report.source


def test_an_empty_file_becomes_a_store(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    with Store(path) as store:
        assert store.list_runs() == []


def test_a_file_that_is_not_a_database_is_one_line_error(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"not a database " * 100)
    with pytest.raises(StoreError) as err:
        Store(path)
    assert str(err.value) == f"{path}: not a netspectra store: file is not a database"


def test_a_foreign_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (name TEXT)")
    with pytest.raises(StoreError, match="an SQLite database with other tables"):
        Store(path)
    with pytest.raises(StoreError, match="no such store"):
        Store(tmp_path / "missing.db", create=False)


@pytest.mark.hardening
def test_missing_run_and_corrupt_spectrum(model, tmp_path):
    store = Store(tmp_path / "s.db")
    run_id = analyze_into_store(model, store).run_id
    with pytest.raises(StoreError, match="no run 99"):
        store.load_report(99)
    with sqlite3.connect(tmp_path / "s.db") as db:
        db.execute("UPDATE spectra SET data = ? WHERE layer_index = 0", (b"garbage",))
    with pytest.raises(StoreError, match="layer blocks.0.fc.weight: stored spectrum does not decompress"):
        store.load_report(run_id)


def test_a_column_missing_from_an_old_store_is_added(model, tmp_path):
    path = tmp_path / "s.db"
    run_id = analyze_into_store(model, path).run_id
    with sqlite3.connect(path) as db:
        db.execute('ALTER TABLE layers DROP COLUMN "entropy"')  # as if created before the column existed
    store = Store(path)
    assert all(np.isnan(layer.entropy) for layer in store.load_report(run_id).layers)
    assert store.record_run(analyze(model), {}) > run_id
