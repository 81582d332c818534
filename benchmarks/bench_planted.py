"""Which threshold recovers a planted signal best?  The grid behind the table in docs/compress.md.

W = S + E (N = 600, M = beta N, noise sigma = 1), S of rank r with normalised strengths
x_i = x (1 + i/2), i = 0..r-1 (x is the weakest; distinct strengths keep the singular vectors identifiable),
3 draws per cell.  For every method, averaged over the draws:

* k: components kept;
* cos2: the cosine metric (Nishikawa, Shimizu & Hashiguchi, arXiv 2512.12911), |<u_hat_i, u_i>|^2 between
  the i-th left singular vectors of W and of S, averaged over the r true components, a component the
  method drops counting 0 (so keeping too few costs, keeping noise does not);
* err: ||W_hat - S||_F / ||S||_F, the relative error to the true signal.

The oracle keeps exactly r components (``rank:r``, hard).  Run: ``python benchmarks/bench_planted.py``.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from netspectra.denoise import OrientedSVD, compress_svd, planted_matrix

N = 600
BETAS = (0.25, 0.5, 1.0)
RANKS = (1, 5, 20)
WEAKEST = (0.8, 1.2, 2.0, 4.0)
DRAWS = 3
#: Values this close count as a tie (methods that keep the same components differ only by rounding).
_TIE = 1e-9
METHODS = (
    ("mp-edge", "hard"),
    ("bema", "hard"),
    ("gavish-donoho", "hard"),
    ("mp-edge", "frobenius"),
    ("gavish-donoho", "frobenius"),
    ("oracle", "hard"),
)


def label(method: str, shrink: str) -> str:
    return method if shrink == "hard" else f"{method}+{shrink[:3]}"


def run_cell(beta: float, rank: int, x: float, rng: np.random.Generator) -> dict[str, tuple[float, float, float]]:
    """Mean (k, cos2, err) of every method over DRAWS planted matrices."""
    m = round(beta * N)
    scores: dict[str, list[tuple[float, float, float]]] = {label(*spec): [] for spec in METHODS}
    for _ in range(DRAWS):
        p = planted_matrix(N, m, x * (1 + 0.5 * np.arange(rank)), rng)
        svd = OrientedSVD.of(p.matrix)
        for method, shrink in METHODS:
            layer, _ = compress_svd(svd, f"rank:{rank}" if method == "oracle" else method, shrink, reference=p.signal)
            cos2 = sum(layer.measured_cos2_left) / rank
            scores[label(method, shrink)].append((layer.rank, cos2, layer.signal_rel_error))
    return {name: tuple(np.mean(values, axis=0)) for name, values in scores.items()}


def table(rows: list[tuple[tuple[float, int, float], dict]], metric: int, title: str, fmt: str) -> str:
    names = [label(*spec) for spec in METHODS]
    lines = [f"**{title}**", "", "| beta | r | x | " + " | ".join(names) + " |", "|---|---|---|" + "---|" * len(names)]
    for (beta, rank, x), result in rows:
        values = [result[n][metric] for n in names[:-1]]
        best = max(values) if metric == 1 else min(values)
        cells = [f"**{v:{fmt}}**" if metric and abs(v - best) <= _TIE else f"{v:{fmt}}" for v in values]
        cells.append(f"{result[names[-1]][metric]:{fmt}}")
        lines.append(f"| {beta:g} | {rank} | {x:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(rows: list[tuple[tuple[float, int, float], dict]]) -> str:
    names = [label(*spec) for spec in METHODS]
    lines = [
        "**Over the grid** (mean; cells where the method is best or tied, oracle excluded)",
        "",
        "| method | mean k / r | mean cos2 | best cos2 | mean err | best err |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        k = np.mean([res[name][0] / rank for (_, rank, _), res in rows])
        cos = np.mean([res[name][1] for _, res in rows])
        err = np.mean([res[name][2] for _, res in rows])
        best_cos = sum(res[name][1] >= max(res[n][1] for n in names[:-1]) - _TIE for _, res in rows)
        best_err = sum(res[name][2] <= min(res[n][2] for n in names[:-1]) + _TIE for _, res in rows)
        oracle = name == names[-1]
        lines.append(
            f"| {name} | {k:.2f} | {cos:.3f} | {'-' if oracle else best_cos} | {err:.3f} | {'-' if oracle else best_err} |"
        )
    return "\n".join(lines)


def main() -> int:
    start = time.perf_counter()
    rng = np.random.default_rng(2512_12911)
    rows = [((beta, rank, x), run_cell(beta, rank, x, rng)) for beta in BETAS for rank in RANKS for x in WEAKEST]
    print(
        f"N = {N}, M = beta N, sigma = 1, x_i = x (1 + i/2), {DRAWS} draws per cell; best of the five "
        f"non-oracle methods in bold; detection threshold x > beta^(1/4) = "
        + ", ".join(f"{b**0.25:.3f} (beta {b:g})" for b in BETAS)
        + "\n"
    )
    print(summary(rows), end="\n\n")
    print(table(rows, 0, "components kept k", ".1f"), end="\n\n")
    print(table(rows, 1, "cos2: mean |<u_hat_i, u_i>|^2 over the r true components (higher is better)", ".3f"), end="\n\n")
    print(table(rows, 2, "err: ||W_hat - S||_F / ||S||_F (lower is better)", ".3f"))
    print(f"\n({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
