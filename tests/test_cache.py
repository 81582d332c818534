"""The disk cache of computed tables: where it lives, that it can be turned off, and that a damaged entry
is recomputed rather than trusted."""

import numpy as np
import pytest

from netspectra import cache
from netspectra.rmt import htmp


def test_location_and_switch(monkeypatch, tmp_path):
    monkeypatch.setenv("NETSPECTRA_CACHE_DIR", str(tmp_path / "c"))
    assert cache.cache_directory() == tmp_path / "c"
    monkeypatch.setenv("NETSPECTRA_CACHE_DIR", "off")
    assert cache.cache_directory() is None
    cache.store_arrays("ns", "k", {"a": np.ones(3)})  # disabled: nothing written, no error
    assert cache.load_arrays("ns", "k", ("a",)) is None
    monkeypatch.delenv("NETSPECTRA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_directory() == tmp_path / "xdg" / "netspectra"


def test_round_trip_and_unwritable_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("NETSPECTRA_CACHE_DIR", str(tmp_path))
    cache.store_arrays("ns", "k", {"a": np.arange(4.0), "b": np.float64(2.5)})
    got = cache.load_arrays("ns", "k", ("a", "b"))
    assert np.array_equal(got["a"], np.arange(4.0)) and float(got["b"]) == 2.5
    assert cache.load_arrays("ns", "k", ("a", "missing")) is None
    assert [p.name for p in (tmp_path / "ns").iterdir()] == ["k.npz"]  # no temporary file left
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("NETSPECTRA_CACHE_DIR", str(blocker))
    cache.store_arrays("ns", "k", {"a": np.ones(1)})  # a file where the directory should be: ignored


@pytest.mark.parametrize("damage", ["truncate", "nan"])
def test_htmp_tables_come_back_identical_and_damage_is_recomputed(monkeypatch, tmp_path, damage):
    monkeypatch.setenv("NETSPECTRA_CACHE_DIR", str(tmp_path))
    htmp._density.cache_clear()
    first = htmp._density(0.25, 8.0)
    (entry,) = (tmp_path / htmp._CACHE_NAMESPACE).iterdir()
    htmp._density.cache_clear()
    again = htmp._density(0.25, 8.0)
    assert np.array_equal(again.log_pdf, first.log_pdf) and again.mass == first.mass
    if damage == "truncate":
        entry.write_bytes(entry.read_bytes()[:100])
    else:
        arrays = dict(np.load(entry))
        arrays["log_pdf"][3] = np.nan
        np.savez(entry, **arrays)
    htmp._density.cache_clear()
    repaired = htmp._density(0.25, 8.0)
    assert np.array_equal(repaired.log_pdf, first.log_pdf)
    htmp._density.cache_clear()
