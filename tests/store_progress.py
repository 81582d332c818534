"""How far a run writing a results store has got, read from another process while it writes."""

import sqlite3


def committed_layers(db) -> int:
    """Layers committed to the store at ``db`` so far; 0 while it does not exist yet or is busy (ask
    again rather than wait while layers commit)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05) as con:
            return con.execute("SELECT COUNT(*) FROM layers").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
