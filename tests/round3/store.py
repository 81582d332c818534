"""The results store as untrusted input (issue 25): forged, malformed and oversized store files.

Each case builds a small model (``a.safetensors``, and ``b.safetensors`` where a second model is needed),
stores a genuine analysis of it with netspectra itself, then edits the store file as an attacker would
(``sqlite3``) and runs a command on it.  What must happen: a forged or edited run is never served (it is
recomputed, and the status line says why), a malformed store ends in one error line, and nothing hangs.

The store key (netspectra.store.seal) is ``$NETSPECTRA_KEY_FILE``: the test suite's own under pytest; when
the attack is run as a script and none is set, one in a temporary folder instead of the user's.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from round3 import Case, Outcome

os.environ.setdefault("NETSPECTRA_KEY_FILE", os.path.join(tempfile.mkdtemp(prefix="netspectra-round3-"), "store.key"))

#: Layers of each model, and the value a forger writes into every alpha.
NUM_LAYERS = 2
FORGED_ALPHA = 42.0


def _model(path: Path, seed: int) -> Path:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    save_file({f"fc{i}.weight": rng.standard_normal((80, 40)).astype(np.float32) for i in range(NUM_LAYERS)}, str(path))
    return path


def _stored(folder: Path, *, resume_after: int | None = None) -> Path:
    """``a.safetensors`` and ``s.db`` holding its complete run 1, or (``resume_after``) a run killed after that
    many layers."""
    from netspectra.io import content_hash, iter_weight_matrices
    from netspectra.pipeline import analyze_matrix
    from netspectra.spec import AnalysisSpec
    from netspectra.store import ModelInfo, Store, analyze_into_store

    model = _model(folder / "a.safetensors", 1)
    db = folder / "s.db"
    if resume_after is None:
        analyze_into_store(model, db)
        return db
    with Store(db) as store:
        info = ModelInfo(content_hash(model), str(model), "safetensors")
        run_id = store.begin_run(str(model), AnalysisSpec().identity(), model=info)
        for weight in list(iter_weight_matrices(model))[:resume_after]:
            store.record_layer(run_id, analyze_matrix(weight))
    return db


#: An edit of the store: SQL, SQL with parameters, or a function of the connection.
Edit = str | tuple[str, Sequence[object]] | Callable[[sqlite3.Connection], None]


def _edit(db: Path, *edits: Edit) -> None:
    with sqlite3.connect(db) as con:
        for edit in edits:
            if callable(edit):
                edit(con)
            else:
                sql, parameters = (edit, ()) if isinstance(edit, str) else edit
                con.execute(sql, parameters)
    sqlite3.connect(db).close()


def _edited(*statements: Edit, then: Sequence[str], resume_after: int | None = None):
    """A build: the genuine store, these edits, then ``netspectra`` with ``then`` (``{db}``, ``{a}`` replaced)."""

    def build(folder: Path) -> list[str]:
        db = _stored(folder, resume_after=resume_after)
        _edit(db, *statements)
        return [arg.format(db=db, a=folder / "a.safetensors", b=folder / "b.safetensors") for arg in then]

    return build


def _rebuilt(table: str, old: str, new: str) -> Edit:
    """An edit that recreates ``table`` (its rows kept) with ``old`` replaced by ``new`` in its declaration."""

    def rebuild(con: sqlite3.Connection) -> None:
        (sql,) = con.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
        assert old in sql, sql
        con.execute(f"ALTER TABLE {table} RENAME TO old_{table}")
        con.execute(sql.replace(old, new))
        con.execute(f"INSERT INTO {table} SELECT * FROM old_{table}")
        con.execute(f"DROP TABLE old_{table}")

    return rebuild


def _before_versions(con: sqlite3.Connection) -> None:
    """The store as netspectra wrote it before algorithm versions and seals (the columns they added dropped)."""
    for table, column in (("runs", "algorithm"), ("runs", "seal"), ("layers", "seal")):
        if column in [row[1] for row in con.execute(f"PRAGMA table_info({table})")]:
            con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")


def _recomputed(model: str, why: str) -> Callable[[Path, Outcome], None]:
    """Check: the alphas printed are those of a plain analysis of ``model``, and stderr says why."""

    def check(folder: Path, outcome: Outcome) -> None:
        from netspectra import analyze

        printed = json.loads(outcome.stdout)
        alphas = [layer["alpha"] for layer in printed["layers"]]
        expected = [layer.alpha for layer in analyze(folder / model).layers]
        assert FORGED_ALPHA not in alphas, f"a forged row was served: alphas {alphas}"
        np.testing.assert_allclose(alphas, expected, rtol=1e-12)
        assert why in outcome.stderr, f"stderr does not say {why!r}: {outcome.stderr!r}"

    return check


def _relabelled(folder: Path) -> list[str]:
    """A's complete run relabelled as B's (B's content hash) with alpha 42."""
    from netspectra.io import content_hash

    db = _stored(folder)
    b = _model(folder / "b.safetensors", 2)
    _edit(db, ("UPDATE models SET content_hash = ?", (content_hash(b),)), f"UPDATE layers SET alpha = {FORGED_ALPHA}")
    return ["analyze", str(b), "--store", str(db), "--json"]


def _many_runs(folder: Path) -> list[str]:
    """300k runs (copies of one) in the store."""
    db = _stored(folder)
    _edit(
        db,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) "
        "INSERT INTO runs (model_id, source, options, layout, started, status) "
        "SELECT model_id, source, options, layout, started, status FROM runs, n",
    )
    return ["runs", "--store", str(db)]


def _listed_newest(folder: Path, outcome: Outcome) -> None:
    assert "300001" in outcome.stdout and "the newest 50 of 300001 runs" in outcome.stdout, outcome.stdout[-500:]


def _fifo(folder: Path) -> list[str]:
    os.mkfifo(folder / "s.db")
    return ["analyze", str(_model(folder / "a.safetensors", 1)), "--store", str(folder / "s.db")]


_ANALYZE_A = ["analyze", "{a}", "--store", "{db}", "--json"]
_LIST = ["runs", "--store", "{db}"]
_NOT_SEALED = "fails its integrity check"

CASES = [
    Case(
        "run of A relabelled with B's content hash, alpha 42", _relabelled, "ok", check=_recomputed("b.safetensors", _NOT_SEALED)
    ),
    Case(
        "every alpha of a complete run set to 42",
        _edited(f"UPDATE layers SET alpha = {FORGED_ALPHA}", then=_ANALYZE_A),
        "ok",
        check=_recomputed("a.safetensors", _NOT_SEALED),
    ),
    Case(
        "a complete run's layer deleted",
        _edited("DELETE FROM spectra WHERE layer_index = 1", "DELETE FROM layers WHERE layer_index = 1", then=_ANALYZE_A),
        "ok",
        check=_recomputed("a.safetensors", _NOT_SEALED),
    ),
    Case(
        "an interrupted run marked complete",
        _edited("UPDATE runs SET status = 'complete'", then=_ANALYZE_A, resume_after=1),
        "ok",
        check=_recomputed("a.safetensors", _NOT_SEALED),
    ),
    Case(
        "--resume of a run whose stored layer has alpha 42",
        _edited(f"UPDATE layers SET alpha = {FORGED_ALPHA}", then=[*_ANALYZE_A, "--resume"], resume_after=1),
        "ok",
        check=_recomputed("a.safetensors", "1 stored layer(s) of run 1 failed the integrity check"),
    ),
    Case(
        "a run stored before algorithm versions, with other values",
        _edited(_before_versions, f"UPDATE layers SET alpha = {FORGED_ALPHA}", then=_ANALYZE_A),
        "ok",
        check=_recomputed("a.safetensors", "run 1 was computed by an unknown algorithm version"),
    ),
    Case(
        "alpha stored as text, served",
        _edited("UPDATE layers SET alpha = 'abc'", then=_ANALYZE_A),
        "ok",
        check=_recomputed("a.safetensors", _NOT_SEALED),
    ),
    Case(
        "alpha stored as text, shown",
        _edited("UPDATE layers SET alpha = 'abc'", then=["runs", "--store", "{db}", "--show", "1"]),
        match="run 1, layer 'fc0.weight': column alpha holds str 'abc', not float",
    ),
    Case(
        "layer_index stored as text, shown",
        _edited("UPDATE layers SET layer_index = 'x' || layer_index", then=["runs", "--store", "{db}", "--show", "1"]),
        match="column layer_index holds str 'x0', not int",
    ),
    Case(
        "N stored as a blob, shown",
        _edited("UPDATE layers SET N = x'00'", then=["report", "1", "--store", "{db}", "-o", "r.html"]),
        match="column N holds bytes",
    ),
    Case(
        "spectrum stored as text, shown",
        _edited("UPDATE spectra SET data = 'not a spectrum'", then=["runs", "--store", "{db}", "--show", "1"]),
        match="stored spectrum is str, not bytes",
    ),
    Case(
        "spectrum stored as text, served",
        _edited("UPDATE spectra SET data = 'not a spectrum'", then=_ANALYZE_A),
        "ok",
        check=_recomputed("a.safetensors", _NOT_SEALED),
    ),
    Case(
        "spectrum codec unknown",
        _edited("UPDATE spectra SET codec = 'pickle'", then=["runs", "--store", "{db}", "--show", "1"]),
        match="codec 'pickle'",
    ),
    Case(
        "options not JSON",
        _edited("UPDATE runs SET options = '{not json'", then=["runs", "--store", "{db}"]),
        match="run 1: invalid options",
    ),
    Case(
        "options nested 30k deep",
        _edited("UPDATE runs SET options = '" + "[" * 30_000 + "]" * 30_000 + "'", then=["runs", "--store", "{db}", "--json"]),
        match="run 1: options is nested",
    ),
    Case(
        "options a JSON list",
        _edited("UPDATE runs SET options = '[1, 2]'", then=["runs", "--store", "{db}"]),
        match="options are not a JSON object",
    ),
    Case(
        "step stored as text",
        _edited("UPDATE runs SET step = 'abc'", then=["runs", "--store", "{db}"]),
        match="run 1: step holds str 'abc'",
    ),
    Case(
        "status neither running nor complete",
        _edited(_rebuilt("runs", "CHECK (status IN ('running', 'complete'))", ""), "UPDATE runs SET status = 'evil'", then=_LIST),
        match="status 'evil' is not running or complete",
    ),
    Case(
        "runs rebuilt without NOT NULL, started NULL",
        _edited(_rebuilt("runs", "started TEXT NOT NULL", "started TEXT"), "UPDATE runs SET started = NULL", then=_LIST),
        match="column runs.started is declared TEXT, not TEXT NOT NULL",
    ),
    Case(
        "spectra rebuilt with data TEXT",
        _edited(_rebuilt("spectra", "data BLOB NOT NULL", "data TEXT NOT NULL"), then=["runs", "--store", "{db}", "--show", "1"]),
        match="column spectra.data is declared TEXT NOT NULL, not BLOB NOT NULL",
    ),
    Case(
        "a trigger that rewrites every alpha written",
        _edited(
            "CREATE TRIGGER forge AFTER INSERT ON layers BEGIN UPDATE layers SET alpha = 42 WHERE rowid = new.rowid; END",
            then=_ANALYZE_A,
        ),
        match="not a netspectra store: it holds a trigger",
    ),
    Case(
        "a view in place of the layers table",
        _edited(
            "DROP TABLE spectra",
            "DROP TABLE layers",
            "CREATE VIEW layers AS SELECT 1 AS run_id",
            then=["runs", "--store", "{db}", "--show", "1"],
        ),
        match="it holds a view",
    ),
    Case("300k runs listed", _many_runs, "ok", check=_listed_newest),
    Case("the store is a FIFO", _fifo, match="not a regular file"),
]
