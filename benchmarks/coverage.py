"""How often each uncertainty netspectra reports holds the truth: alpha's interval, the spike overlaps, log det's error.

Run:  python benchmarks/coverage.py [--quick] [--only alpha|spikes|logdet|decompression]

* **alpha** — a Gaussian bulk with a planted 10% Pareto tail (:func:`netspectra.rmt.ensembles.power_law_tail`)
  of exponent 2, 2.5, 3 and 4, aspect ratios N/M = 1, 2, 4, M = 64 to 1024 (30 draws per cell up to M =
  256, 15 at 512, 8 at 1024): how often [alpha_lo, alpha_hi] holds the planted exponent, against
  alpha -+ 1.645 alpha_se, the interval's median width and the mean alpha; then pure Gaussian noise, whose
  alpha is the exponent of the top of an MP spectrum (8 draws per cell).
* **spikes** — one component of strength x uniform in [0.9, 2.2] times the BBP threshold beta^(1/4) over
  Gaussian noise, 128 x 64 to 3000 x 300: how often the predicted squared overlaps (left and right, from the
  strength read off the top eigenvalue) are within 0.1 of the measured ones, among the draws whose top
  eigenvalue stands at least G Tracy–Widom scales above the fitted MP edge, for G = 0 to 40.  netspectra fills
  the spike columns from G = ``SPIKE_OVERLAP_MARGIN``.
* **logdet** — stochastic Lanczos quadrature of log det X (8 probes, 32 steps) on Gaussian, Student-t(3),
  spiked, power-law and rank-deficient matrices, 6 draws each: how often ``log_det_error`` holds the
  actual error, and how often the estimate is refused (NaN).
* **decompression** — free decompression on Gaussian, Student-t(5), Student-t(3), 5%- and 1%-sparse
  entries (3200 x 800) at ratios 2 and 4: refused, or its Wasserstein-1 distance to the exact ESD over the
  mean eigenvalue.

Eigenvalues are those of W^T W / N (W is N x M, N >= M).  Seeds are fixed: the tables reproduce exactly.
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from netspectra.defaults import SPIKE_OVERLAP_MARGIN  # noqa: E402
from netspectra.diagnose.phase import tracy_widom_scale  # noqa: E402
from netspectra.errors import NetspectraError  # noqa: E402
from netspectra.linalg import compute_spectrum  # noqa: E402
from netspectra.rmt import ensembles  # noqa: E402
from netspectra.rmt.logdet import log_determinant, slq_log_determinant  # noqa: E402
from netspectra.rmt.marchenko_pastur import mp_edges  # noqa: E402
from netspectra.rmt.mp_bulk import fit_mp_bulk  # noqa: E402
from netspectra.rmt.powerlaw import fit_power_law  # noqa: E402
from netspectra.rmt.spikes import cos2_left, cos2_right, detection_threshold, strength_from_eigenvalue  # noqa: E402


def alpha_coverage(quick: bool) -> None:
    """Coverage of the planted tail exponent by [alpha_lo, alpha_hi] and by alpha -+ 1.645 se."""
    sizes = (64, 128, 256) if quick else (64, 128, 256, 512, 1024)
    print(
        "| planted alpha | N x M | draws | mean alpha | [alpha_lo, alpha_hi] covers | median width | alpha -+ 1.645 se covers |"
    )
    print("|---|---|---|---|---|---|---|")
    for alpha in (2.0, 2.5, 3.0, 4.0):
        for ratio in (1, 2, 4):
            for m in sizes:
                draws = 10 if quick else (30 if m <= 256 else 15 if m == 512 else 8)
                fits = [
                    fit_power_law(_eigenvalues(ensembles.power_law_tail(ratio * m, m, alpha, np.random.default_rng(100 + s))))
                    for s in range(draws)
                ]
                covered = np.mean([f.alpha_lo <= alpha <= f.alpha_hi for f in fits])
                se_covered = np.mean([abs(f.alpha - alpha) <= 1.645 * f.alpha_se for f in fits])
                width = np.median([f.alpha_hi - f.alpha_lo for f in fits])
                mean = np.mean([f.alpha for f in fits])
                print(
                    f"| {alpha:g} | {ratio * m} x {m} | {draws} | {mean:.2f} | {covered:.0%} | {width:.2f} | {se_covered:.0%} |",
                    flush=True,
                )
    print("\n| pure Gaussian noise | alpha (8 draws) | alpha_lo | alpha_hi | alpha_lo > 6 |")
    print("|---|---|---|---|---|")
    for ratio in (1, 2, 4):
        for m in sizes:
            fits = [fit_power_law(_eigenvalues(np.random.default_rng(s).standard_normal((ratio * m, m)))) for s in range(8)]
            alphas = [f.alpha for f in fits]
            print(
                f"| {ratio * m} x {m} | {min(alphas):.1f}-{max(alphas):.1f} | {min(f.alpha_lo for f in fits):.1f}-"
                f"{max(f.alpha_lo for f in fits):.1f} | {min(f.alpha_hi for f in fits):.1f}-{max(f.alpha_hi for f in fits):.1f} | "
                f"{sum(f.alpha_lo > 6 for f in fits)}/8 |",
                flush=True,
            )


def spike_coverage(quick: bool) -> None:
    """Predicted against measured squared overlaps of one planted component, by its distance from the MP edge."""
    shapes = ((128, 64, 150), (256, 128, 120), (300, 300, 80), (512, 256, 80), (1000, 500, 50), (1500, 150, 60))
    if not quick:
        shapes += ((2000, 1000, 25), (3000, 300, 40))
    margins = (0, 5, 10, 15, 20, 30, 40)
    print(f"\nfilled from G = {SPIKE_OVERLAP_MARGIN:g} Tracy-Widom scales above the MP edge")
    print("| N x M | draws | " + " | ".join(f"G >= {g}" for g in margins) + " |")
    print("|---|---|" + "---|" * len(margins))
    for n, m, draws in shapes:
        beta = m / n
        rows = []
        for seed in range(draws // 2 if quick else draws):
            rng = np.random.default_rng(seed)
            x = rng.uniform(0.9, 2.2) * detection_threshold(beta)
            u = rng.standard_normal(n)
            v = rng.standard_normal(m)
            u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
            w = rng.standard_normal((n, m)) + x * np.sqrt(n) * np.outer(u, v)
            left, s, right = np.linalg.svd(w, full_matrices=False)
            evals = s**2 / n
            bulk = fit_mp_bulk(evals, n, m)
            x_hat = float(strength_from_eigenvalue(evals[0], beta, bulk.sigma2))
            if not math.isfinite(x_hat):
                continue
            above = (evals[0] - mp_edges(beta, bulk.sigma2)[1]) / tracy_widom_scale(bulk.sigma2, n, m)
            error = max(
                abs(float(cos2_left(x_hat, beta)) - float(left[:, 0] @ u) ** 2),
                abs(float(cos2_right(x_hat, beta)) - float(right[0] @ v) ** 2),
            )
            rows.append((above, error))
        cells = []
        for g in margins:
            errors = [e for a, e in rows if a >= g]
            cells.append(f"{np.mean(np.array(errors) <= 0.1):.0%} ({len(errors)})" if errors else "-")
        print(f"| {n} x {m} | {len(rows)} | " + " | ".join(cells) + " |", flush=True)


def logdet_coverage(quick: bool) -> None:
    """Actual SLQ error against ``log_det_error``, and how often the estimate is refused."""
    cases = {
        "Gaussian 1200 x 400": lambda r: r.standard_normal((1200, 400)),
        "Gaussian 600 x 450": lambda r: r.standard_normal((600, 450)),
        "Gaussian 400 x 400": lambda r: r.standard_normal((400, 400)),
        "Student-t(3) 1200 x 400": lambda r: r.standard_t(3, (1200, 400)),
        "Student-t(3) 2000 x 1100": lambda r: r.standard_t(3, (2000, 1100)),
        "spikes x=3,5,8 1000 x 500": lambda r: ensembles.spiked(1000, 500, [3.0, 5.0, 8.0], r),
        "power law alpha=2.5 800 x 400": lambda r: ensembles.power_law_tail(800, 400, 2.5, r),
        "rank 300 of 400": lambda r: r.standard_normal((400, 300)) @ r.standard_normal((300, 400)),
    }
    print(
        "\n| matrix | draws | refused (NaN) | error within log_det_error | largest |error| / log_det_error | largest |error| / |log det| |"
    )
    print("|---|---|---|---|---|---|")
    for name, make in cases.items():
        draws = 3 if quick else 6
        refused, covered, ratios, relative = 0, 0, [], []
        for seed in range(draws):
            w = make(np.random.default_rng(seed))
            evals = np.linalg.eigvalsh(w.T @ w / w.shape[0])
            exact = log_determinant(evals, 10 * w.shape[1] * np.finfo(np.float64).eps * evals[-1])
            estimate = slq_log_determinant(w[None], seed=seed)
            if math.isnan(estimate.value):
                refused += 1
                continue
            error = abs(estimate.value - exact)
            covered += error <= estimate.error
            ratios.append(error / estimate.error)
            relative.append(error / abs(exact))
        kept = draws - refused
        print(
            f"| {name} | {draws} | {refused} | {covered}/{kept} | {max(ratios, default=math.nan):.2f} | "
            f"{max(relative, default=math.nan):.1%} |",
            flush=True,
        )


def decompression_check(quick: bool) -> None:
    """Free decompression on light- and heavy-tailed entries: refused, or its W1 / mean eigenvalue."""
    from netspectra.linalg import DiscreteDensity, cdf_distances, decompressed_esd

    cases = {
        "Gaussian": ensembles.gaussian,
        "Student-t(5)": lambda n, m, r: ensembles.student_t(n, m, 5.0, r),
        "Student-t(3)": lambda n, m, r: ensembles.student_t(n, m, 3.0, r),
        "5%-sparse": lambda n, m, r: ensembles.sparse(n, m, 0.05, r),
        "1%-sparse": lambda n, m, r: ensembles.sparse(n, m, 0.01, r),
    }
    print("\n| entries (3200 x 800) | seed | ratio 2 | ratio 4 |")
    print("|---|---|---|---|")
    for name, make in cases.items():
        for seed in range(1 if quick else 2):
            w = make(3200, 800, np.random.default_rng(seed))
            evals = np.linalg.eigvalsh(w.T @ w / 3200)
            exact = DiscreteDensity.from_eigenvalues(evals)
            cells = []
            for columns in (400, 200):
                try:
                    estimate = decompressed_esd(w, columns, np.linspace(0, 1.2 * evals[-1], 600))
                    cells.append(f"W1/mean {cdf_distances(estimate, exact)[0] / evals.mean():.3f}")
                except NetspectraError as exc:
                    cells.append("refused: " + str(exc).split(":")[1].split("(")[0].strip())
            print(f"| {name} | {seed} | {cells[0]} | {cells[1]} |", flush=True)


def _eigenvalues(w: np.ndarray) -> np.ndarray:
    evals = compute_spectrum(w[None]).eigenvalues
    return evals[evals > 0]


SECTIONS = {"alpha": alpha_coverage, "spikes": spike_coverage, "logdet": logdet_coverage, "decompression": decompression_check}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and draws")
    parser.add_argument("--only", choices=sorted(SECTIONS), help="one section")
    args = parser.parse_args()
    start = time.perf_counter()
    for name, section in SECTIONS.items():
        if args.only in (None, name):
            section(args.quick)
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
