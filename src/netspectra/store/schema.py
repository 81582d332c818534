"""Tables of the results store, the check that a file holds exactly them, and the fingerprint of the row layout.

* ``meta(key, value)``: ``format`` = :data:`STORE_FORMAT`; a database without it is not a store.
* ``models(id, content_hash UNIQUE, path, format, first_seen)``: one row per distinct weight content
  (:func:`netspectra.io.content_hash`); the path is where it was first seen.
* ``runs(id, model_id, source, options, layout, started, finished, status, step, label, algorithm, seal)``:
  one analysis.  ``options`` is canonical JSON of the analysis settings, ``layout`` the fingerprint of the
  layer columns, ``algorithm`` the :data:`~netspectra.version.ALGORITHM_VERSION` that computed the rows,
  ``status`` ``running`` until the last layer is written, then ``complete`` with its ``seal``
  (:mod:`netspectra.store.seal`); ``step``/``label`` place a run in a training trajectory (``netspectra
  track``).  ``model_id`` is NULL for a live ``torch.nn.Module``.
* ``layers(run_id, <every LayerReport column>, seal)``, primary key (run_id, layer_index).
* ``spectra(run_id, layer_index, codec, count, data)``: eigenvalues of W^T W / N, float64,
  zlib-compressed; one row per layer that has a spectrum, primary key (run_id, layer_index).

A store is read as untrusted input: :func:`check_schema` accepts only these tables with these columns
(name, declared type, NOT NULL, primary key) and no views or triggers, before anything else is read.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3

from netspectra.diagnose.row import column_types
from netspectra.store.codec import sql_type
from netspectra.store.errors import StoreError

#: Value of ``meta.format``; bumped when the tables change incompatibly (columns added are not).
STORE_FORMAT = "netspectra-store/1"

#: Every table of a store.
TABLES = ("meta", "models", "runs", "layers", "spectra")

FIXED_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY,
    content_hash TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    format TEXT NOT NULL,
    first_seen TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    model_id INTEGER REFERENCES models(id),
    source TEXT NOT NULL,
    options TEXT NOT NULL,
    layout TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'complete')),
    step INTEGER,
    label TEXT,
    algorithm INTEGER,
    seal BLOB
);
CREATE INDEX IF NOT EXISTS runs_by_model ON runs(model_id, options, layout, status);
CREATE TABLE IF NOT EXISTS spectra (
    run_id INTEGER NOT NULL,
    layer_index INTEGER NOT NULL,
    codec TEXT NOT NULL,
    count INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_id, layer_index),
    FOREIGN KEY (run_id, layer_index) REFERENCES layers(run_id, layer_index) ON DELETE CASCADE
);
"""

#: Columns a store written by an earlier netspectra may lack, added when it is opened: (table, column, type).
#: (Columns LayerReport gained are added too: :func:`missing_columns`.)
ADDED_COLUMNS = (("runs", "algorithm", "INTEGER"), ("runs", "seal", "BLOB"), ("layers", "seal", "BLOB"))


def quote(identifier: str) -> str:
    """An SQL identifier in double quotes (column names are LayerReport's, e.g. ``N``, ``warning``)."""
    return '"' + identifier.replace('"', '""') + '"'


def layers_table_sql() -> str:
    """CREATE TABLE statement of ``layers``: run_id, every LayerReport column in column order, and the seal."""
    columns = [f"{quote(name)} {sql_type(annotation)}" for name, annotation in column_types().items()]
    return (
        "CREATE TABLE IF NOT EXISTS layers (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, "
        + ", ".join(columns)
        + ", seal BLOB, PRIMARY KEY (run_id, layer_index))"
    )


def create_statements() -> list[str]:
    """Every statement that creates the tables and index of an empty store."""
    return [s for s in (*FIXED_TABLES.split(";"), layers_table_sql()) if s.strip()]


def layout_fingerprint() -> str:
    """16 hex digits identifying the layer columns with their types.

    A stored run is reused for a new analysis only when its fingerprint is the current one (and its
    algorithm version, :data:`~netspectra.version.ALGORITHM_VERSION`), so that a netspectra that computes
    more columns never serves rows without them.
    """
    text = json.dumps(list(column_types().items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: PRAGMA table_info of a column without its name: (declared type, NOT NULL, position in the primary key).
Column = tuple[str, int, int]


def table_columns(db: sqlite3.Connection, table: str) -> dict[str, Column]:
    """Column name -> (declared type, NOT NULL, primary-key position) of ``table`` in ``db``."""
    return {row[1]: (str(row[2]).upper(), row[3], row[5]) for row in db.execute(f"PRAGMA table_info({quote(table)})")}


@functools.cache
def expected_columns() -> dict[str, dict[str, Column]]:
    """The columns of every table as this netspectra creates them (from an in-memory store)."""
    db = sqlite3.connect(":memory:")
    try:
        for statement in create_statements():
            db.execute(statement)
        return {table: table_columns(db, table) for table in TABLES}
    finally:
        db.close()


def missing_columns(db: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """(table, column, type) of the columns this store lacks that may be added (see :data:`ADDED_COLUMNS`)."""
    addable = {*((t, c) for t, c, _ in ADDED_COLUMNS), *(("layers", c) for c in column_types())}
    out = []
    for table, expected in expected_columns().items():
        have = table_columns(db, table)
        out += [(table, c, kind[0]) for c, kind in expected.items() if c not in have and (table, c) in addable]
    return out


def check_schema(db: sqlite3.Connection, label: str) -> None:
    """Refuse a store that holds a view or a trigger, or a table of :data:`TABLES` whose columns are not
    the expected ones: each present with its declared type, NOT NULL and primary key (columns a store of
    an earlier netspectra lacks, :func:`missing_columns`, excepted; extra columns are ignored).

    Raises
    ------
    StoreError
        One line naming the table and the column.
    """
    kinds = db.execute("SELECT type, name FROM sqlite_master WHERE type NOT IN ('table', 'index')").fetchall()
    if kinds:
        kind, name = kinds[0]
        raise StoreError(f"{label}: not a netspectra store: it holds a {kind} ({str(name)[:40]!r})")
    addable = {(t, c) for t, c, _ in missing_columns(db)}
    for table, expected in expected_columns().items():
        have = table_columns(db, table)
        if not have:
            continue  # created when the store is prepared
        for column, kind in expected.items():
            if (table, column) in addable:
                continue
            if column not in have:
                raise StoreError(f"{label}: not a netspectra store: table {table} has no column {column}")
            if have[column] != kind:
                raise StoreError(
                    f"{label}: not a netspectra store: column {table}.{column} is declared {_declared(have[column])}, "
                    f"not {_declared(kind)}"
                )


def _declared(column: Column) -> str:
    """A column's declaration in words: ``TEXT NOT NULL``, ``INTEGER PRIMARY KEY``."""
    kind, not_null, key = column
    return (kind or "untyped") + (" NOT NULL" if not_null else "") + (" PRIMARY KEY" if key else "")
