"""Merge two digit-subset fine-tunes of a weak digits MLP with every method; print per-task accuracy.

The testbed (``tests/merge/merge_testbed.py``): a 64 -> 64 -> 64 -> 10 ReLU MLP trained briefly on 150
images of all ten digits (the base), and two copies fine-tuned on every training image of digits 0-4 and
of digits 5-9 (each loss over its own five logits).  Every merge goes through ``merge_models`` (files in,
files out); accuracy is the 10-way argmax accuracy on held-out images of each task and of all digits.

Run: ``python benchmarks/bench_merge.py [--seeds N]``.  Prints Markdown: the per-task table for seed 0
and, over seeds 0..N-1, the mean and range of the all-digits accuracy and how often each merge beats the
base.  Every number is measured in this run (needs torch and scikit-learn).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "merge"))
from merge_testbed import TASKS, build_digits_tasks, write_model  # noqa: E402

from netspectra.io import open_source  # noqa: E402
from netspectra.merge import merge_models  # noqa: E402

#: (label, method, parameters): the defaults, and the papers' other common settings.
MERGES = (
    ("linear (average)", "linear", {}),
    ("task arithmetic", "task-arithmetic", {}),
    ("TIES, density 0.2", "ties", {}),
    ("TIES, density 0.5", "ties", {"density": 0.5}),
    ("STAR, eta 0.4", "star", {}),
    ("STAR, eta 0.8", "star", {"eta": 0.8}),
    ("TSV", "tsv", {}),
    ("spectral-auto", "spectral-auto", {}),
)


def read_model(path: Path) -> dict[str, np.ndarray]:
    with open_source(path) as src:
        return {r.name: r.load() for r in src.tensors()}


def run_seed(seed: int, workdir: Path) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """Accuracies of the base, the fine-tunes and every merge; and the rules spectral-auto chose."""
    tasks = build_digits_tasks(seed)
    root = workdir / f"seed{seed}"
    write_model(root / "base", tasks.base)
    for name, weights in tasks.finetuned.items():
        write_model(root / name, weights)
    rows = {"base": tasks.accuracies(tasks.base)}
    rows.update({f"fine-tuned {name}": tasks.accuracies(w) for name, w in tasks.finetuned.items()})
    chosen = {}
    for i, (label, method, params) in enumerate(MERGES):
        config = {
            "base_model": str(root / "base"),
            "models": [str(root / t) for t in TASKS],
            "method": method,
            "parameters": params,
        }
        result = merge_models(config, root / f"merge{i}")
        rows[label] = tasks.accuracies(read_model(root / f"merge{i}"))
        if method == "spectral-auto":
            chosen = {x.name: f"{x.rule} ({x.verdict}, interference {x.interference:.2f})" for x in result.layers if x.verdict}
    return rows, chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds for the summary table (default %(default)s)")
    args = parser.parse_args()
    start = time.perf_counter()
    runs = []
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1):
        for seed in range(args.seeds):
            runs.append(run_seed(seed, Path(tmp)))
    rows, chosen = runs[0]
    print("### Seed 0: accuracy per task\n")
    print("| model | digits 0-4 | digits 5-9 | all digits |")
    print("|---|---:|---:|---:|")
    for label, acc in rows.items():
        print(f"| {label} | {acc['0-4']:.3f} | {acc['5-9']:.3f} | {acc['union']:.3f} |")
    print("\nspectral-auto chose: " + "; ".join(f"{name}: {rule}" for name, rule in chosen.items()))
    print(f"\n### Seeds 0-{args.seeds - 1}: accuracy on all digits\n")
    print("| model | mean | min | max | beats base |")
    print("|---|---:|---:|---:|---:|")
    base = np.array([r["base"]["union"] for r, _ in runs])
    for label in rows:
        union = np.array([r[label]["union"] for r, _ in runs])
        wins = "" if label == "base" else f"{int(np.sum(union > base))}/{len(runs)}"
        print(f"| {label} | {union.mean():.3f} | {union.min():.3f} | {union.max():.3f} | {wins} |")
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
