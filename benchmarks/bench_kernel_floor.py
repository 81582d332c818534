"""The least time a 7B-shaped analysis can take on this machine: its kernels alone, timed on one thread.

Run:  python benchmarks/bench_kernel_floor.py [--blocks 32] [--cores 2]

For the shapes of a 7B decoder (per block four 4096 x 4096 and three 11008 x 4096 matrices) it times, on one
BLAS thread, the float32 and float64 Gram matrices (``W^T W``) and the float64 eigenvalues of a 4096 x 4096
Gram matrix by :func:`netspectra.linalg.lapack.symmetric_eigenvalues` (two-stage reduction), and prints
the time of ``--blocks`` blocks spread perfectly over ``--cores`` cores with nothing else done: no reading,
no decoding, no fits, no tail window.  A full float64 analysis cannot be faster than the first floor; a
float32 tail window (``refined``) cannot be faster than its Grams, before any eigensolver or refinement.
Compare these floors with the targets, and with ``bench_scale.py --full``'s measured time.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from netspectra.linalg.lapack import symmetric_eigenvalues

SHAPES = {"attention 4096 x 4096": ((4096, 4096), 4), "MLP 11008 x 4096": ((11008, 4096), 3)}


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def kernel_times(n: int, m: int, rng: np.random.Generator) -> tuple[float, float, float]:
    """Seconds of the float32 Gram, the float64 Gram and the float64 eigenvalues of one n x m matrix."""
    w = rng.standard_normal((n, m), dtype=np.float32)
    g32 = timed(lambda: w.T @ w)
    w64 = w.astype(np.float64)
    gram = w64.T @ w64
    return g32, timed(lambda: w64.T @ w64), timed(lambda: symmetric_eigenvalues(gram))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=32)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    full = grams32 = 0.0
    with threadpool_limits(1):
        for label, ((n, m), per_block) in SHAPES.items():
            g32, g64, eig = kernel_times(n, m, rng)
            print(f"{label}: float32 Gram {g32:.2f} s, float64 Gram {g64:.2f} s, float64 eigenvalues {eig:.2f} s (one thread)")
            full += per_block * (g64 + eig)
            grams32 += per_block * g32
    scale = args.blocks / args.cores / 60
    print(
        f"{args.blocks} blocks on {args.cores} cores, kernels only: float64 Gram + eigenvalues {full * scale:.1f} min "
        f"(floor of a full analysis); float32 Grams {grams32 * scale:.1f} min (floor of a float32 tail window)"
    )


if __name__ == "__main__":
    main()
