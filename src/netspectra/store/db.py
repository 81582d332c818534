"""The results store: an embedded SQLite database of runs, models, layer rows and spectra.

SQLite in WAL mode (readers never block the writer); every layer is written in its own transaction
(its row and its spectrum together), so a process killed at any point leaves whole layers only, and a
run marked ``complete`` has all of them.  Primary keys (run_id, layer_index) make a duplicate layer an
error instead of a second row.  ``synchronous = NORMAL``: a committed layer survives the process being
killed (the WAL is in the OS page cache); surviving power loss would take ``FULL`` and an fsync per
layer.  Tables: see :mod:`netspectra.store.schema`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from netspectra.diagnose.model import ModelReport
from netspectra.diagnose.row import LayerReport, column_types
from netspectra.errors import NetspectraError, one_line
from netspectra.store import codec
from netspectra.store.schema import FIXED_TABLES, STORE_FORMAT, layers_table_sql, layout_fingerprint, quote

#: Store used when no path is given: ``netspectra.db`` in the working directory.
DEFAULT_STORE = "netspectra.db"


class StoreError(NetspectraError):
    """The store cannot be opened, is not a netspectra store, is corrupt, or lacks a requested run."""


@dataclass(frozen=True)
class ModelInfo:
    """Identity of a model file: content hash (:func:`netspectra.io.content_hash`), path and format."""

    content_hash: str
    path: str
    format: str


@dataclass(frozen=True)
class RunInfo:
    """One row of ``runs`` with its model and the number of layers stored so far."""

    id: int
    status: str
    started: str
    finished: str | None
    source: str
    content_hash: str | None
    format: str | None
    options: dict
    step: int | None
    label: str | None
    num_layers: int

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict of the fields, in declaration order."""
        return dict(self.__dict__)


_RUN_QUERY = """
SELECT runs.id, runs.status, runs.started, runs.finished, runs.source, models.content_hash, models.format,
       runs.options, runs.step, runs.label, (SELECT COUNT(*) FROM layers WHERE layers.run_id = runs.id)
FROM runs LEFT JOIN models ON models.id = runs.model_id
"""


def canonical_options(options: dict) -> str:
    """Options as canonical JSON (sorted keys), the form stored and compared in ``runs.options``."""
    return json.dumps(options, sort_keys=True, separators=(",", ":"))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Store:
    """A netspectra results store in one SQLite file.

    Parameters
    ----------
    path : str or Path
        The database file (default ``./netspectra.db``); created with its tables if missing and
        ``create`` is true.
    create : bool
        When false, a missing file is an error (for read-only commands such as ``netspectra runs``).

    Raises
    ------
    StoreError
        The file cannot be opened, is not an SQLite database, is an SQLite database of something else,
        or has a store format this version does not read.
    """

    def __init__(self, path: str | Path = DEFAULT_STORE, *, create: bool = True) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a directory, not a store file")
        if not create and not self.path.is_file():
            raise StoreError(f"{self.path}: no such store")
        self._layout = layout_fingerprint()
        self._columns = column_types()
        with self._sql("cannot open store"):
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            with self._sql("not a netspectra store"):
                self._db.execute("PRAGMA foreign_keys = ON")
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._prepare()
        except StoreError:
            self._db.close()
            raise

    # ------------------------------------------------------------------------------------- plumbing

    @contextmanager
    def _sql(self, what: str) -> Iterator[None]:
        """Turn any sqlite3 error inside the block into a one-line :class:`StoreError`."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {what}: {one_line(exc)}") from None

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back if the block raises."""
        with self._sql(what):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _prepare(self) -> None:
        """Check that the file is a netspectra store (or empty); create or extend its tables if needed.

        An up-to-date store is only read here, so that listing runs never waits for a writer.
        """
        db = self._db
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            raise StoreError(f"{self.path}: not a netspectra store (an SQLite database with other tables)")
        if "meta" in tables:
            row = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            if row is None or row[0] != STORE_FORMAT:
                raise StoreError(f"{self.path}: store format {row[0] if row else 'none'} is not {STORE_FORMAT}")
        have = {row[1] for row in db.execute("PRAGMA table_info(layers)")}
        missing = [name for name in self._columns if name not in have]
        if tables >= {"meta", "models", "runs", "layers", "spectra"} and not missing:
            return
        with self._transaction("cannot create the store tables"):
            for statement in (*FIXED_TABLES.split(";"), layers_table_sql()):
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('format', ?)", (STORE_FORMAT,))
            have = {row[1] for row in db.execute("PRAGMA table_info(layers)")}  # again, under the write lock
            for name in self._columns:
                if name not in have:  # a column LayerReport gained after this store was created
                    db.execute(f"ALTER TABLE layers ADD COLUMN {quote(name)} {codec.sql_type(self._columns[name])}")

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------- writing

    def begin_run(
        self,
        source: str,
        options: dict,
        *,
        model: ModelInfo | None = None,
        step: int | None = None,
        label: str | None = None,
    ) -> int:
        """Insert a ``running`` run (and its model, if new) and return the run id."""
        with self._transaction("cannot start a run") as db:
            model_id = None
            if model is not None:
                db.execute(
                    "INSERT OR IGNORE INTO models (content_hash, path, format, first_seen) VALUES (?, ?, ?, ?)",
                    (model.content_hash, model.path, model.format, _now()),
                )
                model_id = db.execute("SELECT id FROM models WHERE content_hash = ?", (model.content_hash,)).fetchone()[0]
            cursor = db.execute(
                "INSERT INTO runs (model_id, source, options, layout, started, status, step, label) "
                "VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                (model_id, source, canonical_options(options), self._layout, _now(), step, label),
            )
            return int(cursor.lastrowid)

    def record_layer(self, run_id: int, layer: LayerReport) -> None:
        """Write one layer's row and its spectrum in one transaction."""
        names = list(self._columns)
        row = layer.to_dict()
        values = [run_id] + [codec.to_sql(row[n], a) for n, a in self._columns.items()]
        sql = f"INSERT INTO layers (run_id, {', '.join(map(quote, names))}) VALUES ({', '.join('?' * len(values))})"
        with self._transaction(f"cannot store layer {layer.name}") as db:
            db.execute(sql, values)
            if layer.eigenvalues is not None:
                db.execute(
                    "INSERT INTO spectra (run_id, layer_index, codec, count, data) VALUES (?, ?, ?, ?, ?)",
                    (
                        run_id,
                        layer.layer_index,
                        codec.EIGENVALUE_CODEC,
                        int(layer.eigenvalues.size),
                        codec.encode_eigenvalues(layer.eigenvalues),
                    ),
                )

    def finish_run(self, run_id: int) -> None:
        """Mark a run ``complete`` (every layer is stored)."""
        with self._transaction(f"cannot finish run {run_id}") as db:
            db.execute("UPDATE runs SET status = 'complete', finished = ? WHERE id = ?", (_now(), run_id))

    def record_run(
        self,
        report: ModelReport,
        options: dict,
        *,
        model: ModelInfo | None = None,
        step: int | None = None,
        label: str | None = None,
    ) -> int:
        """Store a whole :class:`ModelReport` as a complete run (one transaction per layer); return its id."""
        run_id = self.begin_run(report.source, options, model=model, step=step, label=label)
        for layer in report.layers:
            self.record_layer(run_id, layer)
        self.finish_run(run_id)
        return run_id

    # ------------------------------------------------------------------------------------- reading

    def _run_info(self, row: tuple) -> RunInfo:
        return RunInfo(*row[:7], json.loads(row[7]), *row[8:])

    def find_run(self, content_hash: str, options: dict, *, status: str) -> RunInfo | None:
        """The latest run of this content with these options, this status and the current layout."""
        with self._sql("cannot read runs"):
            row = self._db.execute(
                _RUN_QUERY + "WHERE models.content_hash = ? AND runs.options = ? AND runs.layout = ? "
                "AND runs.status = ? ORDER BY runs.id DESC LIMIT 1",
                (content_hash, canonical_options(options), self._layout, status),
            ).fetchone()
        return None if row is None else self._run_info(row)

    def get_run(self, run_id: int) -> RunInfo:
        """The run with this id; :class:`StoreError` if there is none."""
        with self._sql("cannot read runs"):
            row = self._db.execute(_RUN_QUERY + "WHERE runs.id = ?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no run {run_id}")
        return self._run_info(row)

    def list_runs(self) -> list[RunInfo]:
        """Every run, oldest first."""
        with self._sql("cannot read runs"):
            rows = self._db.execute(_RUN_QUERY + "ORDER BY runs.id").fetchall()
        return [self._run_info(row) for row in rows]

    def stored_layers(self, run_id: int) -> dict[int, str]:
        """layer_index -> name of the layers of a run already in the store."""
        with self._sql("cannot read layers"):
            rows = self._db.execute("SELECT layer_index, name FROM layers WHERE run_id = ?", (run_id,)).fetchall()
        return dict(rows)

    def load_report(self, run_id: int) -> ModelReport:
        """The :class:`ModelReport` of a run, layers in order, each with its eigenvalues.

        Raises
        ------
        StoreError
            No such run, or a stored spectrum that does not decode.
        """
        run = self.get_run(run_id)
        names = list(self._columns)
        with self._sql(f"cannot read run {run_id}"):
            rows = self._db.execute(
                f"SELECT {', '.join('layers.' + quote(n) for n in names)}, spectra.data, spectra.count "
                "FROM layers LEFT JOIN spectra ON spectra.run_id = layers.run_id "
                "AND spectra.layer_index = layers.layer_index WHERE layers.run_id = ? ORDER BY layers.layer_index",
                (run_id,),
            ).fetchall()
        layers = []
        for row in rows:
            values = {n: codec.from_sql(v, a) for (n, a), v in zip(self._columns.items(), row)}
            blob, count = row[len(names)], row[len(names) + 1]
            try:
                limit = codec.spectrum_limit(values["N"], values["M"], values["num_matrices"])
                evals = None if blob is None else codec.decode_eigenvalues(blob, count, limit)
            except ValueError as exc:
                raise StoreError(f"{self.path}: run {run_id}, layer {values['name']}: {exc}") from None
            layers.append(LayerReport.from_columns(values, eigenvalues=evals))
        return ModelReport(source=run.source, layers=tuple(layers))
