"""The results store: an embedded SQLite database of runs, models, layer rows and spectra.

SQLite in WAL mode (readers never block the writer); every layer is written in its own transaction
(its row and its spectrum together), so a process killed at any point leaves whole layers only, and a
run marked ``complete`` has all of them.  Primary keys (run_id, layer_index) make a duplicate layer an
error instead of a second row.  ``synchronous = NORMAL``: a committed layer survives the process being
killed (the WAL is in the OS page cache); surviving power loss would take ``FULL`` and an fsync per
layer.  Tables: see :mod:`netspectra.store.schema`.

A store file is untrusted input (it may come from elsewhere, or have been edited):

* a new store is built in a temporary file beside its path and linked into place once complete, so
  that a full disk or a crash never leaves a partial store;
* its tables are checked (:func:`~netspectra.store.schema.check_schema`), every value read is
  type-checked, options are parsed with bounded depth, and counts are bounded (runs listed, layers of a
  run, eigenvalues of a spectrum);
* every layer row and every complete run carries a seal (:mod:`netspectra.store.seal`); the analysis
  serves only sealed runs (:meth:`Store.load_report` with ``verify=True``), and says why it recomputes
  the others.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict, Unpack

from netspectra.atomic import make_parent
from netspectra.constraints import short_repr
from netspectra.defaults import DEFAULT_STORE
from netspectra.diagnose.model import ModelReport
from netspectra.diagnose.row import LayerReport, column_types
from netspectra.errors import NetspectraError, one_line
from netspectra.io.structured import parse_json
from netspectra.store import codec
from netspectra.store.errors import StoreError, UntrustedRun
from netspectra.store.schema import (
    STORE_FORMAT,
    TABLES,
    check_schema,
    create_statements,
    layout_fingerprint,
    missing_columns,
    quote,
)
from netspectra.store.seal import Sealer, encode, load_key
from netspectra.version import ALGORITHM_VERSION

__all__ = ["DEFAULT_STORE", "ModelInfo", "RunInfo", "Store", "StoreError", "StoredRun", "UntrustedRun"]

#: Longest ``runs.options`` read (canonical JSON of the analysis settings is a few hundred characters).
MAX_OPTIONS_CHARS = 1 << 16
#: Most layers one run may hold (a model of 100k tensors is far inside; a larger count is forged).
MAX_LAYERS = 1 << 20


@dataclass(frozen=True)
class ModelInfo:
    """Identity of a model file: content hash (:func:`netspectra.io.content_hash`), path and format."""

    content_hash: str
    path: str
    format: str


class RunAbout(TypedDict, total=False):
    """What a run is of, beside its source and options: the keywords of :meth:`Store.begin_run` (the model
    file, the training step, a label)."""

    model: ModelInfo | None
    step: int | None
    label: str | None


@dataclass(frozen=True)
class RunInfo:
    """One row of ``runs`` with its model and the number of layers stored so far.

    ``algorithm_version`` is the :data:`~netspectra.version.ALGORITHM_VERSION` that computed the run's
    rows (None for a run stored before versions were recorded).
    """

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
    algorithm_version: int | None
    num_layers: int

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict of the fields, in declaration order."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class StoredRun:
    """A run read back from the store: its row, its report, and whether its seals verify.

    Attributes
    ----------
    info : RunInfo
    report : ModelReport
        Every stored layer with its eigenvalues; ``algorithm_version`` that of the run (0 if unknown).
    problem : str
        Empty when every layer (and, for a complete run, the set of layers) carries this user's seal;
        else why not, in a few words.
    """

    info: RunInfo
    report: ModelReport
    problem: str

    @property
    def verified(self) -> bool:
        """Whether the run's seals verify (:attr:`problem` is empty)."""
        return not self.problem

    @property
    def warning(self) -> str:
        """The line a command shows an unverified run with (empty for a verified run)."""
        return f"warning: run {self.info.id} is shown as stored, unverified: {self.problem}" if self.problem else ""


@dataclass(frozen=True)
class _RunRow:
    """A validated ``runs`` row: what callers see, its stored seal, and the run context its seals cover (the
    id, content hash, options as stored, algorithm version, layout, source, step and label, encoded)."""

    info: RunInfo
    seal: object
    context: bytes


_RUN_QUERY = """
SELECT runs.id, runs.status, runs.started, runs.finished, runs.source, models.content_hash, models.format,
       runs.options, runs.step, runs.label, runs.algorithm,
       (SELECT COUNT(*) FROM layers WHERE layers.run_id = runs.id), runs.layout, runs.seal
FROM runs LEFT JOIN models ON models.id = runs.model_id
"""
#: The same without counting the layers (0): what a write needs, in time independent of the run's size.
_RUN_QUERY_UNCOUNTED = _RUN_QUERY.replace("(SELECT COUNT(*) FROM layers WHERE layers.run_id = runs.id)", "0")

#: Types each field of :class:`RunInfo` may have when read (``options`` is text, parsed after).
_RUN_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "id": (int,),
    "status": (str,),
    "started": (str,),
    "finished": (str, type(None)),
    "source": (str,),
    "content_hash": (str, type(None)),
    "format": (str, type(None)),
    "options": (str,),
    "step": (int, type(None)),
    "label": (str, type(None)),
    "algorithm_version": (int, type(None)),
    "num_layers": (int,),
}

#: A SELECT of every layer column, the row's seal and its spectrum (codec, count, data).
_SPECTRUM_FIELDS = ("spectra.codec", "spectra.count", "spectra.data")


def canonical_options(options: dict) -> str:
    """Options as canonical JSON (sorted keys), the form stored and compared in ``runs.options``."""
    return json.dumps(options, sort_keys=True, separators=(",", ":"))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _text(data: bytes) -> str:
    """SQLite text as str; bytes that are not UTF-8 (a forged store) become U+FFFD instead of an error."""
    return data.decode("utf-8", "replace")


class Store:
    """A netspectra results store in one SQLite file.

    Parameters
    ----------
    path : str or Path
        The database file (default ``./netspectra.db``); created with its tables if missing (or empty)
        and ``create`` is true, atomically: the file appears complete or not at all.
    create : bool
        When false, a missing file is an error (for read-only commands such as ``netspectra runs``).

    Raises
    ------
    StoreError
        The file cannot be created or opened, is not a regular file, is not an SQLite database, is an
        SQLite database of something else (other tables, other columns, views or triggers), or has a
        store format this version does not read.
    """

    def __init__(self, path: str | Path = DEFAULT_STORE, *, create: bool = True) -> None:
        self.path = Path(path)
        self._layout = layout_fingerprint()
        self._columns = column_types()
        self._sealer: Sealer | None = None
        self._contexts: dict[int, bytes] = {}  # run id -> its seal context, for the runs this Store writes
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            if not create:
                raise StoreError(f"{self.path}: no such store") from None
            status = None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot open store: {exc.strerror or one_line(exc)}") from None
        if status is not None and stat.S_ISDIR(status.st_mode):
            raise StoreError(f"{self.path}: is a directory, not a store file")
        if status is not None and not stat.S_ISREG(status.st_mode):
            raise StoreError(f"{self.path}: not a regular file (a store is an SQLite file)")
        if status is None or status.st_size == 0:
            self._create_file()
        with self._sql("cannot open store"):
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self._db.text_factory = _text
        try:
            with self._sql("not a netspectra store"):
                self._db.execute("PRAGMA trusted_schema = OFF")
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

    def _create_file(self) -> None:
        """Build an empty store in a temporary file beside :attr:`path` and link it into place.

        A full disk or a crash leaves no partial store: the temporary file is removed, and the store
        appears only complete.  A store another process created meanwhile is kept (an empty file, as
        ``touch`` leaves, is replaced).
        """
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(8)}.tmp")
        try:
            make_parent(self.path)
            db = sqlite3.connect(temporary, isolation_level=None)
            try:
                db.execute("BEGIN IMMEDIATE")
                for statement in create_statements():
                    db.execute(statement)
                db.execute("INSERT INTO meta (key, value) VALUES ('format', ?)", (STORE_FORMAT,))
                db.execute("COMMIT")
            finally:
                db.close()
            try:
                os.link(temporary, self.path)  # never replaces a store another process created meanwhile
            except FileExistsError:
                if os.stat(self.path).st_size == 0:
                    os.replace(temporary, self.path)
            except OSError:  # a file system without hard links
                os.replace(temporary, self.path)
        except (OSError, sqlite3.Error, NetspectraError) as exc:
            message = exc.strerror if isinstance(exc, OSError) and exc.strerror else one_line(exc)
            raise StoreError(f"{self.path}: cannot create the store: {message.removeprefix(f'{self.path}: ')}") from None
        finally:
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(f"{temporary}{suffix}").unlink(missing_ok=True)

    def _prepare(self) -> None:
        """Check that the file is a netspectra store (or an SQLite file without tables); create or extend
        its tables if needed.

        An up-to-date store is only read here, so that listing runs never waits for a writer.
        """
        db = self._db
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            raise StoreError(f"{self.path}: not a netspectra store (an SQLite database with other tables)")
        if "meta" in tables:
            row = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            if row is None or row[0] != STORE_FORMAT:
                found = short_repr(row[0]) if row else "none"
                raise StoreError(f"{self.path}: store format {found} is not {STORE_FORMAT}")
        check_schema(db, str(self.path))
        if tables >= set(TABLES) and not missing_columns(db):
            return
        with self._transaction("cannot create the store tables"):
            for statement in create_statements():
                db.execute(statement)
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('format', ?)", (STORE_FORMAT,))
            for table, column, kind in missing_columns(db):  # again, under the write lock
                db.execute(f"ALTER TABLE {table} ADD COLUMN {quote(column)} {kind}")

    def _seals(self) -> Sealer:
        """The sealer of this user's key, loaded on first use."""
        if self._sealer is None:
            self._sealer = Sealer(load_key())
        return self._sealer

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
                # a forged model row of this content: its format and path as this file has them
                db.execute(
                    "UPDATE models SET path = ?, format = ? WHERE id = ? AND NOT (typeof(path) = 'text' AND format IS ?)",
                    (model.path, model.format, model_id, model.format),
                )
            cursor = db.execute(
                "INSERT INTO runs (model_id, source, options, layout, started, status, step, label, algorithm) "
                "VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                (model_id, source, canonical_options(options), self._layout, _now(), step, label, ALGORITHM_VERSION),
            )
            return int(cursor.lastrowid)

    def record_layer(self, run_id: int, layer: LayerReport) -> None:
        """Write one layer's row, its spectrum and its seal in one transaction."""
        names = list(self._columns)
        row = layer.to_dict()
        values = [codec.to_sql(row[n], a) for n, a in self._columns.items()]
        spectrum: tuple[object, ...] = (None, None, None)
        if layer.eigenvalues is not None:
            evals = layer.eigenvalues
            spectrum = (codec.EIGENVALUE_CODEC, int(evals.size), codec.encode_eigenvalues(evals))
        sealer = self._seals()
        sql = f"INSERT INTO layers (run_id, {', '.join(map(quote, names))}, seal) VALUES ({', '.join('?' * (len(values) + 2))})"
        with self._transaction(f"cannot store layer {layer.name}") as db:
            seal = sealer.layer_seal(self._context(run_id), values, spectrum)
            db.execute(sql, [run_id, *values, seal])
            if layer.eigenvalues is not None:
                db.execute(
                    "INSERT INTO spectra (run_id, layer_index, codec, count, data) VALUES (?, ?, ?, ?, ?)",
                    (run_id, layer.layer_index, *spectrum),
                )

    def finish_run(self, run_id: int) -> None:
        """Mark a run ``complete`` (every layer is stored) and seal the set of its layers."""
        sealer = self._seals()
        with self._transaction(f"cannot finish run {run_id}") as db:
            context = self._context(run_id)
            layers = db.execute("SELECT layer_index, seal FROM layers WHERE run_id = ? ORDER BY layer_index", (run_id,))
            seal = sealer.run_seal(context, layers.fetchall())
            db.execute("UPDATE runs SET status = 'complete', finished = ?, seal = ? WHERE id = ?", (_now(), seal, run_id))

    def record_run(self, report: ModelReport, options: dict, **about: Unpack[RunAbout]) -> int:
        """Store a whole :class:`ModelReport` as a complete run (one transaction per layer; ``about`` as in
        :meth:`begin_run`); return its id."""
        run_id = self.begin_run(report.source, options, **about)
        for layer in report.layers:
            self.record_layer(run_id, layer)
        self.finish_run(run_id)
        return run_id

    def drop_layers(self, run_id: int, indices: Sequence[object]) -> None:
        """Delete these layers (``layer_index`` values as stored) of a run, rows and spectra."""
        with self._transaction(f"cannot drop layers of run {run_id}") as db:
            for index in indices:
                db.execute("DELETE FROM spectra WHERE run_id = ? AND layer_index IS ?", (run_id, index))
                db.execute("DELETE FROM layers WHERE run_id = ? AND layer_index IS ?", (run_id, index))

    # ------------------------------------------------------------------------------------- reading

    def _validated_run(self, row: Sequence[object]) -> _RunRow:
        """A ``runs`` row, every field type-checked and the options parsed (bounded size and depth).

        Raises
        ------
        UntrustedRun
            A field of another type, a status other than running/complete, or options that are not a
            JSON object.
        """
        fields = dict(zip(_RUN_FIELD_TYPES, row[:12]))
        label = f"{self.path}: run {short_repr(fields['id'])}"
        for name, kinds in _RUN_FIELD_TYPES.items():
            if not isinstance(fields[name], kinds):
                raise UntrustedRun(f"{label}: {name} holds {type(fields[name]).__name__} {short_repr(fields[name])}")
        if fields["status"] not in ("running", "complete"):
            raise UntrustedRun(f"{label}: status {short_repr(fields['status'])} is not running or complete")
        text = str(fields["options"])
        if len(text) > MAX_OPTIONS_CHARS:
            raise UntrustedRun(f"{label}: options longer than {MAX_OPTIONS_CHARS:,} characters")
        options = parse_json(text.encode(), label, "options", UntrustedRun)
        if not isinstance(options, dict):
            raise UntrustedRun(f"{label}: options are not a JSON object")
        info = RunInfo(**{**fields, "options": options})  # type: ignore[arg-type]  # each field's type checked above
        layout, seal = row[12], row[13]
        context = encode([info.id, info.content_hash, text, info.algorithm_version, layout, info.source, info.step, info.label])
        return _RunRow(info, seal, context)

    def _context(self, run_id: int) -> bytes:
        """The seal context of a run being written: read once (the fields it covers never change after
        :meth:`begin_run`)."""
        if run_id not in self._contexts:
            self._contexts[run_id] = self._run_row(run_id, counted=False).context
        return self._contexts[run_id]

    def _run_row(self, run_id: int, *, counted: bool = True) -> _RunRow:
        """The validated row of a run (``num_layers`` 0 unless ``counted``); :class:`StoreError` if none."""
        with self._sql("cannot read runs"):
            query = _RUN_QUERY if counted else _RUN_QUERY_UNCOUNTED
            row = self._db.execute(query + "WHERE runs.id = ?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no run {run_id}")
        return self._validated_run(row)

    def find_run(self, content_hash: str, options: dict, *, status: str, any_version: bool = False) -> RunInfo | None:
        """The latest run of this content with these options and this status, computed by this algorithm
        version with these columns (by any version and columns with ``any_version``).

        Raises
        ------
        UntrustedRun
            The latest such run is malformed (:meth:`_validated_run`).
        """
        where = "WHERE models.content_hash = ? AND runs.options = ? AND runs.status = ?"
        parameters: tuple[object, ...] = (content_hash, canonical_options(options), status)
        if not any_version:
            where += " AND runs.layout = ? AND runs.algorithm = ?"
            parameters += (self._layout, ALGORITHM_VERSION)
        with self._sql("cannot read runs"):
            row = self._db.execute(_RUN_QUERY + where + " ORDER BY runs.id DESC LIMIT 1", parameters).fetchone()
        return None if row is None else self._validated_run(row).info

    def get_run(self, run_id: int) -> RunInfo:
        """The run with this id; :class:`StoreError` if there is none or it is malformed."""
        return self._run_row(run_id).info

    def count_runs(self) -> int:
        """How many runs the store holds."""
        with self._sql("cannot read runs"):
            return int(self._db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def list_runs(self, limit: int | None = None) -> list[RunInfo]:
        """Every run, oldest first; with ``limit``, the newest ``limit`` runs (oldest of them first).

        Raises
        ------
        UntrustedRun
            A listed run is malformed.
        """
        with self._sql("cannot read runs"):
            if limit is None:
                rows = self._db.execute(_RUN_QUERY + "ORDER BY runs.id").fetchall()
            else:
                rows = self._db.execute(_RUN_QUERY + "ORDER BY runs.id DESC LIMIT ?", (limit,)).fetchall()[::-1]
        return [self._validated_run(row).info for row in rows]

    def _layer_rows(self, run: _RunRow) -> Iterator[tuple[object, ...]]:
        """The raw rows of a run's layers in index order: every column, the seal, codec, count and data."""
        if run.info.num_layers > MAX_LAYERS:
            raise UntrustedRun(f"{self.path}: run {run.info.id} claims {run.info.num_layers:,} layers (at most {MAX_LAYERS:,})")
        selected = [f"layers.{quote(n)}" for n in self._columns] + ["layers.seal", *_SPECTRUM_FIELDS]
        sql = (
            f"SELECT {', '.join(selected)} FROM layers LEFT JOIN spectra ON spectra.run_id = layers.run_id "
            "AND spectra.layer_index = layers.layer_index WHERE layers.run_id = ? ORDER BY layers.layer_index"
        )
        with self._sql(f"cannot read run {run.info.id}"):
            yield from self._db.execute(sql, (run.info.id,))

    def _layer(self, run: _RunRow, raw: Sequence[object], decode: bool) -> LayerReport:
        """A layer of ``run`` from its raw row, every value type-checked; its spectrum decoded if ``decode``."""
        n = len(self._columns)
        values: dict[str, object] = {}
        for (name, annotation), value in zip(self._columns.items(), raw[:n]):
            try:
                values[name] = codec.from_sql(value, annotation)
            except ValueError as exc:
                raise UntrustedRun(f"{self.path}: run {run.info.id}, layer {short_repr(raw[0])}: column {name} {exc}") from None
        kind, count, blob = raw[n + 1 :]
        evals = None
        try:
            if kind is not None and kind != codec.EIGENVALUE_CODEC:
                raise ValueError(f"stored spectrum has codec {short_repr(kind)}, not {codec.EIGENVALUE_CODEC}")
            if decode and blob is not None:
                limit = codec.spectrum_limit(values["N"], values["M"], values["num_matrices"])
                evals = codec.decode_eigenvalues(blob, count, limit)
        except ValueError as exc:
            raise UntrustedRun(f"{self.path}: run {run.info.id}, layer {values['name']}: {exc}") from None
        return LayerReport.from_columns(values, eigenvalues=evals)

    def _unsealed(self, run: _RunRow, sealer: Sealer, raw: Sequence[object]) -> bool:
        """Whether a raw layer row lacks a valid seal for its run."""
        n = len(self._columns)
        return not sealer.verifies(raw[n], sealer.layer_seal(run.context, raw[:n], raw[n + 1 :]))

    def sealed_layers(self, run_id: int) -> tuple[dict[int, str], list[object]]:
        """The layers of a run that carry their seal (layer_index -> name), and the ``layer_index`` (as
        stored) of those that do not: malformed, forged, or written by another key or netspectra."""
        run = self._run_row(run_id)
        sealer = self._seals()
        good: dict[int, str] = {}
        bad: list[object] = []
        for raw in self._layer_rows(run):
            try:
                layer = None if self._unsealed(run, sealer, raw) else self._layer(run, raw, decode=False)
            except UntrustedRun:
                layer = None
            if layer is None:
                bad.append(raw[1])
            else:
                good[layer.layer_index] = layer.name
        return good, bad

    def read_run(self, run_id: int, *, verify: bool = False) -> StoredRun:
        """A run's row, its :class:`ModelReport` (layers in order, each with its eigenvalues) and whether
        its seals verify.

        Every value is type-checked; with ``verify`` a layer's spectrum is decompressed only once its
        seal verified.

        Raises
        ------
        StoreError
            No such run, or (``verify``) no usable store key.
        UntrustedRun
            A malformed run or layer (a value of the wrong type, a spectrum that does not decode), or with
            ``verify`` a run whose seals do not verify.
        """
        run = self._run_row(run_id)
        try:
            sealer: Sealer | None = self._seals()
            problem = ""
        except StoreError as exc:  # no usable key: nothing can be served, everything can be shown
            if verify:
                raise
            sealer, problem = None, f"its seals cannot be checked: {exc}"
        layers, seals = [], []
        for raw in self._layer_rows(run):
            if sealer is not None and not problem and self._unsealed(run, sealer, raw):
                problem = f"layer {short_repr(raw[0])} does not carry this user's seal"
            if verify and problem:
                break
            layers.append(self._layer(run, raw, decode=True))
            seals.append((layers[-1].layer_index, raw[len(self._columns)]))
        if sealer is not None and not problem and run.info.status == "complete":
            if not sealer.verifies(run.seal, sealer.run_seal(run.context, seals)):
                problem = "its layers are not those it was sealed with"
        if verify and problem:
            raise UntrustedRun(
                f"{self.path}: run {run_id} fails its integrity check ({problem}: written elsewhere, "
                "by a netspectra before seals, or edited)"
            )
        report = ModelReport(source=run.info.source, layers=tuple(layers), algorithm_version=run.info.algorithm_version or 0)
        return StoredRun(run.info, report, problem)

    def load_report(self, run_id: int, *, verify: bool = False) -> ModelReport:
        """The :class:`ModelReport` of a run (:meth:`read_run`); with ``verify``, only of a sealed run.

        Raises
        ------
        StoreError
            No such run, a malformed run, or (``verify``) a run whose seals do not verify.
        """
        return self.read_run(run_id, verify=verify).report
