"""Tables of the results store, and the fingerprint of the layer-row layout.

* ``meta(key, value)``: ``format`` = :data:`STORE_FORMAT`; a database without it is not a store.
* ``models(id, content_hash UNIQUE, path, format, first_seen)``: one row per distinct weight content
  (:func:`netspectra.io.content_hash`); the path is where it was first seen.
* ``runs(id, model_id, source, options, layout, started, finished, status, step, label)``: one analysis.
  ``options`` is canonical JSON of the analysis settings, ``layout`` the fingerprint of netspectra's
  version and the layer columns, ``status`` ``running`` until the last layer is written, then
  ``complete``; ``step``/``label`` place a run in a training trajectory (``netspectra track``).
  ``model_id`` is NULL for a live ``torch.nn.Module``.
* ``layers(run_id, <every LayerReport column>)``, primary key (run_id, layer_index).
* ``spectra(run_id, layer_index, codec, count, data)``: eigenvalues of W^T W / N, float64,
  zlib-compressed; one row per layer that has a spectrum, primary key (run_id, layer_index).
"""

from __future__ import annotations

import hashlib
import json

from netspectra import __version__
from netspectra.diagnose.row import column_types
from netspectra.store.codec import sql_type

#: Value of ``meta.format``; bumped when the tables change incompatibly.
STORE_FORMAT = "netspectra-store/1"

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
    label TEXT
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


def quote(identifier: str) -> str:
    """An SQL identifier in double quotes (column names are LayerReport's, e.g. ``N``, ``warning``)."""
    return '"' + identifier.replace('"', '""') + '"'


def layers_table_sql() -> str:
    """CREATE TABLE statement of ``layers``: run_id plus every LayerReport column, in column order."""
    columns = [f"{quote(name)} {sql_type(annotation)}" for name, annotation in column_types().items()]
    return (
        "CREATE TABLE IF NOT EXISTS layers (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, "
        + ", ".join(columns)
        + ", PRIMARY KEY (run_id, layer_index))"
    )


def layout_fingerprint() -> str:
    """16 hex digits identifying netspectra's version and the layer columns with their types.

    A stored run is reused for a new analysis only when its fingerprint is the current one, so that a
    netspectra that computes more (or different) columns never serves rows computed by an older one.
    """
    text = json.dumps([__version__, list(column_types().items())])
    return hashlib.sha256(text.encode()).hexdigest()[:16]
