"""FARMS vs full-matrix alpha on a batch-size sweep of digits MLPs.

64 -> 256 -> 256 -> 10 ReLU MLPs (scikit-learn, Adam, 60 epochs) trained on the digits data with batch
sizes 8 .. 512, three seeds each.  For the input layer fc0 (256 x 64, aspect ratio 4) and the square
hidden layer fc1 (256 x 256) it prints alpha by the full spectrum and by FARMS (square submatrices
pooled, :mod:`netspectra.rmt.farms`), mean and standard deviation over seeds, and each estimator's
Spearman rho between batch size and alpha (HT-SR: a smaller batch trains a heavier tail, so alpha should
grow with the batch).  For the square layer the two estimators agree by construction.

Run: ``python benchmarks/bench_farms.py [--seeds 3]``.  Prints Markdown; every number is measured here.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from bench_compress import markdown

from netspectra.act.ranking import spearman
from netspectra.diagnose.options import AnalysisOptions
from netspectra.pipeline import analyze_array
from netspectra.spec import AnalysisSpec

BATCHES = (8, 32, 128, 512)
FARMS = AnalysisSpec(fit=AnalysisOptions(estimator="farms"))


def main(argv: list[str] | None = None) -> int:
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    x, y = load_digits(return_X_y=True)
    records = []
    for batch in BATCHES:
        for seed in range(args.seeds):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf = MLPClassifier(hidden_layer_sizes=(256, 256), batch_size=batch, max_iter=60, random_state=seed).fit(
                    x / 16.0, y
                )
            for layer, coef in (("fc0 256x64", clf.coefs_[0]), ("fc1 256x256", clf.coefs_[1])):
                w = coef.T
                records.append((layer, batch, analyze_array(w).alpha, analyze_array(w, FARMS).alpha))
    rows, trends = [], []
    for layer in ("fc0 256x64", "fc1 256x256"):
        for batch in BATCHES:
            full = [r[2] for r in records if r[0] == layer and r[1] == batch]
            farms = [r[3] for r in records if r[0] == layer and r[1] == batch]
            rows.append(
                {
                    "layer": layer,
                    "batch": batch,
                    "alpha full": np.mean(full),
                    "sd": np.std(full),
                    "alpha FARMS": np.mean(farms),
                    "sd ": np.std(farms),
                }
            )
        mine = [r for r in records if r[0] == layer]
        trends.append(
            {
                "layer": layer,
                "rho(batch, alpha) full": spearman([r[1] for r in mine], [r[2] for r in mine]),
                "rho(batch, alpha) FARMS": spearman([r[1] for r in mine], [r[3] for r in mine]),
            }
        )
    print(f"digits MLPs 64-256-256-10, Adam, 60 epochs, {args.seeds} seeds per batch size\n")
    print(markdown(rows))
    print()
    print(markdown(trends))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
