"""Load: a sweep over 200 small models keeps memory flat and closes every file, in one process and in a pool.

Each check runs in a fresh interpreter (``python -c DRIVER``), as a user's sweep script would, so that
its baseline (numpy, scipy, netspectra: ~100 MB) does not depend on what the test session imported
before (torch alone adds ~200 MB and would make a 10% bound meaningless).  The driver prints one JSON
object of measurements; the assertions are here.

Measured per process (Linux /proc): VmRSS after ``gc.collect()``, the number of open file descriptors,
the descriptors that point into the model directory, and the lines of /proc/PID/maps that map a model
file.  RSS after the 200th model must be within 10% of RSS after the 20th (the first 20 are the warm-up:
lazy imports, allocator arenas); descriptors and maps must be back to their count before the sweep.

The sweeps use ``AnalysisOptions(depth=False)``: the RMT-depth fits cost 0.03-0.3 s per layer on this
shared 2-core machine (by its load), which 2 x 400 layers cannot afford.  What those fits keep between
layers (caches) is checked separately, with the default options, on fewer models
(:func:`test_caches_do_not_grow_with_models`).  The pool's workers are found as this process's children
(less the multiprocessing resource tracker), not through the executor's internals.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fixtures_models import write_safetensors, write_sharded

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")

NUM_MODELS = 200
#: Where the first reading is taken (the models before it are the warm-up).
FIRST_READING = 20
#: RSS after the last model may exceed RSS after FIRST_READING by at most this factor.
RSS_TOLERANCE = 1.10
#: Shapes of the weight matrices of every model (plus a bias, which is skipped).
SHAPES = ((192, 128), (128, 96))

DRIVER = r'''
import gc, json, os, sys
from pathlib import Path

mode, root, listing = sys.argv[1], sys.argv[2], sys.argv[3]
paths = json.loads(Path(listing).read_text())


def rss_mb(pid="self"):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def handles(pid="self"):
    """(open descriptors, descriptors into the model directory, maps of model files)."""
    fd_dir = f"/proc/{pid}/fd"
    names = os.listdir(fd_dir)
    into = 0
    for name in names:
        try:
            into += os.readlink(os.path.join(fd_dir, name)).startswith(root)
        except OSError:  # closed meanwhile (the listing's own descriptor)
            pass
    with open(f"/proc/{pid}/maps") as fh:
        maps = sum(root in line for line in fh)
    own = 1 if pid == "self" else 0  # the descriptor listdir itself had open
    return len(names) - own, into, maps


def worker_pids():
    """Children of this process, less the multiprocessing resource tracker."""
    from multiprocessing import resource_tracker

    tracker = getattr(resource_tracker._resource_tracker, "_pid", None)
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != tracker:
            try:
                with open(f"/proc/{entry}/status") as fh:
                    if any(line.split() == ["PPid:", str(os.getpid())] for line in fh):
                        found.append(int(entry))
            except OSError:  # gone meanwhile
                pass
    return sorted(found)


def reading(pid="self"):
    fds, model_fds, maps = handles(pid)
    return {"rss_mb": rss_mb(pid), "fds": fds, "model_fds": model_fds, "model_maps": maps}


import netspectra
from netspectra.diagnose.options import AnalysisOptions

out = {"readings": []}
if mode == "serial":
    options = AnalysisOptions(depth=False)
    gc.collect()
    out["before"] = reading()
    for done, path in enumerate(paths, start=1):
        report = netspectra.analyze(path, options=options)
        assert len(report.layers) == 2 and all(l.status == "ok" for l in report.layers), (path, report.layers)
        del report
        if done % 20 == 0:
            gc.collect()
            out["readings"].append({"models": done, "self": reading()})

elif mode == "pool":
    from multiprocessing import resource_tracker
    from netspectra import analyze_many
    from netspectra.scale import ProcessExecutor

    options = AnalysisOptions(depth=False)
    resource_tracker.ensure_running()  # started once per process by the first pool: not the sweep's
    gc.collect()
    out["before"] = reading()
    with ProcessExecutor(2) as pool:
        for start in range(0, len(paths), 20):
            reports = analyze_many(paths[start:start + 20], executor=pool, options=options)
            assert [len(r.layers) for r in reports] == [2] * len(reports)
            assert all(l.status == "ok" for r in reports for l in r.layers)
            del reports
            gc.collect()
            workers = {str(pid): reading(pid) for pid in worker_pids()}
            out["readings"].append({"models": start + 20, "self": reading(), "workers": workers})
    gc.collect()
    out["after_exit"] = reading()

elif mode == "store":
    from netspectra.store import Store, analyze_into_store

    options = AnalysisOptions(depth=False)
    db = Path(sys.argv[4])
    gc.collect()
    out["before"] = reading()
    for done, path in enumerate(paths, start=1):  # the store opened and closed by each call
        stored = analyze_into_store(path, db, options=options)
        assert stored.status == "computed" and len(stored.report.layers) == 2
        del stored
    gc.collect()
    out["readings"].append({"models": len(paths), "self": reading(), "pass": "by path"})
    with Store(db) as store:  # one open store, every model again: now served from it
        for path in paths:
            assert analyze_into_store(path, store, options=options).status == "cached"
        gc.collect()
        out["readings"].append({"models": len(paths), "self": reading(), "pass": "open store"})
    gc.collect()
    out["after_exit"] = reading()

elif mode == "depth":
    import types

    def caches():
        sizes = {}
        for name, module in list(sys.modules.items()):
            if name.startswith("netspectra") and isinstance(module, types.ModuleType):
                for attr, value in vars(module).items():
                    if callable(getattr(value, "cache_info", None)):
                        sizes[f"{name}.{attr}"] = value.cache_info().currsize
        return sizes

    from netspectra.rmt.htmp import KAPPA_MAX, _kappa_grid

    gammas = set()
    for done, path in enumerate(paths, start=1):
        report = netspectra.analyze(path, include=r"layers\.0\.")  # default options: the depth fits run
        gammas.update(l.M / l.N for l in report.layers)
        if done in (len(paths) // 3, len(paths)):
            out["readings"].append({"models": done, "caches": caches()})
    out["htmp_grid_points"] = sum(len(_kappa_grid(g, KAPPA_MAX)) for g in gammas if g < 1)

print(json.dumps(out))
'''


def _models(directory: Path, count: int) -> list[str]:
    """``count`` small models, cycling through safetensors, a sharded directory, .npz and (with torch) .pt."""
    try:
        import torch
    except ImportError:
        torch = None
    formats = ("safetensors", "sharded", "npz", "pt") if torch is not None else ("safetensors", "sharded", "npz")
    paths = []
    for i in range(count):
        rng = np.random.default_rng(i)
        tensors = {f"layers.{j}.weight": rng.standard_normal(s).astype(np.float32) for j, s in enumerate(SHAPES)}
        tensors["layers.0.bias"] = rng.standard_normal(SHAPES[0][0]).astype(np.float32)
        kind = formats[i % len(formats)]
        if kind == "safetensors":
            path = write_safetensors(directory / f"m{i:03d}.safetensors", tensors)
        elif kind == "sharded":
            path = directory / f"m{i:03d}"
            write_sharded(path, tensors, n_shards=2)
        elif kind == "npz":
            path = directory / f"m{i:03d}.npz"
            np.savez(path, **tensors)
        else:
            path = directory / f"m{i:03d}.pt"
            torch.save({k: torch.from_numpy(v) for k, v in tensors.items()}, str(path))
        paths.append(os.fspath(path))
    return paths


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("load-models")
    return root, _models(root, NUM_MODELS)


def _drive(mode: str, root: Path, paths: list[str], tmp_path: Path, *extra: str) -> dict:
    listing = tmp_path / "paths.json"
    listing.write_text(json.dumps(paths))
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, mode, os.fspath(root), os.fspath(listing), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def _at(readings: list[dict], models: int) -> dict:
    return next(r for r in readings if r["models"] == models)


def _rss_series(readings: list[dict], who=lambda r: r["self"]) -> str:
    return ", ".join(f"{r['models']}: {who(r)['rss_mb']:.1f}" for r in readings)


def _assert_flat(first: dict, last: dict, what: str, series: str) -> None:
    assert last["rss_mb"] <= RSS_TOLERANCE * first["rss_mb"], (
        f"{what}: RSS grew from {first['rss_mb']:.1f} MB after {FIRST_READING} models to {last['rss_mb']:.1f} MB "
        f"after {NUM_MODELS} (> {RSS_TOLERANCE - 1:.0%}); RSS by models done: {series}"
    )


def _assert_closed(reading: dict, baseline_fds: int, what: str) -> None:
    found = (reading["model_fds"], reading["model_maps"], reading["fds"])
    assert found == (0, 0, baseline_fds), (
        f"{what}: {found[0]} descriptors and {found[1]} memory maps of model files left open, "
        f"{found[2]} descriptors in all ({baseline_fds} expected)"
    )


@pytest.mark.slow
def test_serial_sweep_keeps_memory_flat_and_closes_files(models, tmp_path):
    root, paths = models
    out = _drive("serial", root, paths, tmp_path)
    readings = out["readings"]
    before = out["before"]
    assert before["model_fds"] == 0 and before["model_maps"] == 0
    first, last = _at(readings, FIRST_READING)["self"], _at(readings, NUM_MODELS)["self"]
    _assert_flat(first, last, "analyze() loop", _rss_series(readings))
    for r in readings:
        _assert_closed(r["self"], before["fds"], f"after {r['models']} models")


@pytest.mark.slow
def test_pool_sweep_keeps_memory_flat_in_parent_and_workers(models, tmp_path):
    root, paths = models
    out = _drive("pool", root, paths, tmp_path)
    readings = out["readings"]
    first, last = _at(readings, FIRST_READING), _at(readings, NUM_MODELS)
    assert len(first["workers"]) == 2
    assert first["workers"].keys() == last["workers"].keys(), "the pool's workers were replaced during the sweep"

    _assert_flat(first["self"], last["self"], "pool parent", _rss_series(readings))
    parent_fds = first["self"]["fds"]  # the pool's pipes are open from the first model on
    for r in readings:
        _assert_closed(r["self"], parent_fds, f"pool parent after {r['models']} models")
    _assert_closed(out["after_exit"], out["before"]["fds"], "pool parent after the pool closed")

    for pid in first["workers"]:
        series = _rss_series(readings, lambda r, pid=pid: r["workers"][pid])
        _assert_flat(first["workers"][pid], last["workers"][pid], f"worker {pid}", series)
        for r in readings:
            _assert_closed(r["workers"][pid], first["workers"][pid]["fds"], f"worker {pid} after {r['models']} models")


@pytest.mark.slow
def test_store_sweep_leaves_no_connection_open(models, tmp_path):
    root, paths = models
    out = _drive("store", root, paths[:60], tmp_path, os.fspath(root / "sweep.db"))
    before = out["before"]
    by_path, open_store = (r["self"] for r in out["readings"])
    _assert_closed(by_path, before["fds"], "after 60 analyze_into_store(path, db)")
    # an open Store holds its connection (the database, its -wal and -shm: in the model directory)
    assert open_store["fds"] - before["fds"] == open_store["model_fds"] <= 3, open_store
    assert open_store["model_maps"] <= 1, open_store  # the -shm index, mapped while the connection is open
    _assert_closed(out["after_exit"], before["fds"], "after the Store was closed")


@pytest.mark.slow
def test_caches_do_not_grow_with_models(models, tmp_path):
    """With the default (depth) options, what a fit caches is bounded by the shapes, not by the models.

    The HTMP fit caches densities on its kappa grid, shared by layers of one shape; a table for every
    fitted (continuous) kappa would grow by one per layer, up to the cache's 512 entries.
    """
    root, paths = models
    out = _drive("depth", root, paths[:24], tmp_path)
    early, late = out["readings"]
    htmp = "netspectra.rmt.htmp._density"
    assert late["caches"].get(htmp, 0) <= out["htmp_grid_points"], (
        f"{late['caches'][htmp]} HTMP tables cached after {late['models']} layers of one shape, "
        f"more than the {out['htmp_grid_points']} points of the kappa grid"
    )
    others = {k: v for k, v in late["caches"].items() if k != htmp}
    assert others == {k: early["caches"].get(k, 0) for k in others}, (early, late)


def test_weights_of_every_format_pickle_for_the_pool(models):
    """The pool sends each layer's loader to a worker: a torch checkpoint's loader must pickle too."""
    import pickle

    from netspectra.io import iter_weight_matrices

    _, paths = models
    for path in paths[:4]:  # one model of each format
        for weight in iter_weight_matrices(path):
            copy = pickle.loads(pickle.dumps(weight))
            assert copy.name == weight.name
            np.testing.assert_array_equal(copy.load(), weight.load())
