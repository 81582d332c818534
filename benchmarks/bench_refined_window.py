"""Tail-only window of one 7B-shaped layer: float32 refined in float64 (``refined``) against the float64 dense path.

Run:  python benchmarks/bench_refined_window.py [--k 64] [--rows 11008] [--cols 4096] [--threads 1,0]

One N x M float32 matrix (default 11008 x 4096, an MLP projection of a 7B decoder, in its N >= M orientation),
two kinds: Student-t(3) entries (heavy-tailed) and ``bench_scale.layer_weight`` (Gaussian noise plus a rank-64
power law, the scale benchmark's layers).  For each, and for each BLAS thread count (0: the default), the
tail-only window with K = ``--k`` and its doublings (``fit_tail_window``, no depth columns) by ``refined`` and by
``dense``, timed in the same run: times, ratio refined / dense, the window size reached, the largest relative
difference of the top-K eigenvalues, and alpha and xmin of both.  Then the whole tail-only row with the default
options (depth on, so log det: SLQ after ``refined``, exact from the dense spectrum, which is what ``auto`` then
takes) on one BLAS thread.  Prints ``uptime`` first (the machine is shared).
"""

from __future__ import annotations

import argparse
import subprocess
import time

import numpy as np
from bench_scale import layer_weight
from threadpoolctl import threadpool_limits

from netspectra.diagnose.options import AnalysisOptions
from netspectra.diagnose.tail import analyze_tail, fit_tail_window
from netspectra.linalg import SpectrumOptions


def matrix(kind: str, rows: int, cols: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    if kind == "student-t3":
        return rng.standard_t(3, size=(rows, cols)).astype(np.float32) / np.float32(np.sqrt(cols))
    return layer_weight(rng, rows, cols)


def window(w: np.ndarray, k: int, backend: str):
    start = time.perf_counter()
    result = fit_tail_window(w[None], k, AnalysisOptions(depth=False), SpectrumOptions(backend=backend, tail_only=k))
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--rows", type=int, default=11008)
    parser.add_argument("--cols", type=int, default=4096)
    parser.add_argument("--threads", default="1,0", help="BLAS thread counts, 0 = the default (comma-separated)")
    args = parser.parse_args()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(
        "| matrix | BLAS threads | refined s | dense s | ratio | window | max rel. diff top-K | alpha refined / dense | xmin rel. diff |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for kind in ("student-t3", "layer_weight"):
        w = matrix(kind, args.rows, args.cols)
        for threads in (int(t) for t in args.threads.split(",")):
            with threadpool_limits(limits=threads or None):
                t_refined, refined = window(w, args.k, "refined")
                t_dense, dense = window(w, args.k, "dense")
            top_r, top_d = refined.spectrum.eigenvalues, dense.spectrum.eigenvalues
            top_r, top_d = top_r[-min(args.k, top_r.size) :], top_d[-min(args.k, top_d.size) :]
            diff = float(np.max(np.abs(top_r - top_d) / top_d))
            alphas = f"{refined.fit.alpha:.9f} / {dense.fit.alpha:.9f}"
            xmin = abs(refined.fit.xmin - dense.fit.xmin) / dense.fit.xmin
            print(
                f"| {kind} {args.rows}x{args.cols} | {threads or 'default'} | {t_refined:.2f} | {t_dense:.2f} | "
                f"{t_refined / t_dense:.2f} | {refined.spectrum.eigenvalues.size} / {dense.spectrum.eigenvalues.size} | "
                f"{diff:.1e} | {alphas} | {xmin:.1e} |"
            )
    print(
        "\n| matrix | row refined (SLQ log det) s | row auto (dense, exact log det) s | ratio | log det refined +- error / exact |"
    )
    print("|---|---|---|---|---|")
    for kind in ("student-t3", "layer_weight"):
        stack = matrix(kind, args.rows, args.cols)[None]
        seconds, rows = [], []
        with threadpool_limits(limits=1):
            for backend in ("refined", "auto"):
                start = time.perf_counter()
                rows.append(
                    analyze_tail(
                        stack,
                        name="w",
                        layer_index=0,
                        kind="linear",
                        spectrum_options=SpectrumOptions(backend=backend, tail_only=args.k),
                    )
                )
                seconds.append(time.perf_counter() - start)
        print(
            f"| {kind} {args.rows}x{args.cols} | {seconds[0]:.2f} | {seconds[1]:.2f} | {seconds[0] / seconds[1]:.2f} | "
            f"{rows[0].log_det:.1f} +- {rows[0].log_det_error:.1f} / {rows[1].log_det:.1f} |"
        )
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
