"""Do data-free metrics rank trained models like their test accuracy?  Spearman rho on digits MLPs.

A family of 64 -> 256 -> 128 -> 10 ReLU MLPs trained on scikit-learn digits with different batch sizes,
learning rates and numbers of epochs (one seed each), so that their test accuracies spread; each is
analyzed and ranked by every metric of ``netspectra rank``.  rho > 0: the metric (smaller = better)
ranks the models like accuracy does.

Run: ``python benchmarks/bench_rank.py``.  Prints a Markdown table; every number is measured in this run.
"""

from __future__ import annotations

import itertools
import tempfile
import warnings
from pathlib import Path

import numpy as np
from bench_compress import markdown
from safetensors.numpy import save_file

from netspectra.act.ranking import RANKING_METRICS, rank_models
from netspectra.pipeline import analyze

BATCHES = (8, 32, 128)
RATES = (1e-3, 1e-2)
EPOCHS = (5, 40)


def main() -> int:
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x / 16.0, y, test_size=0.3, random_state=0)
    reports, accuracies, labels = [], {}, []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (batch, rate, epochs) in enumerate(itertools.product(BATCHES, RATES, EPOCHS)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf = MLPClassifier(
                    hidden_layer_sizes=(256, 128), batch_size=batch, learning_rate_init=rate, max_iter=epochs, random_state=i
                ).fit(x_train, y_train)
            path = Path(tmp) / f"m{i}.safetensors"
            save_file({f"fc{j}.weight": w.T.astype(np.float32) for j, w in enumerate(clf.coefs_)}, str(path))
            report = analyze(path)
            reports.append(report)
            accuracies[report.source] = float(clf.score(x_test, y_test))
            labels.append(f"batch {batch}, lr {rate:g}, {epochs} epochs")
    ranking = rank_models(reports, accuracies=accuracies)
    accs = sorted(accuracies.values())
    print(
        f"{len(reports)} digits MLPs ({', '.join(map(str, BATCHES))} batch x {RATES} lr x {EPOCHS} epochs), "
        f"test accuracy {accs[0]:.3f} .. {accs[-1]:.3f}\n"
    )
    print(markdown([{"metric": m, "Spearman rho with accuracy": ranking.correlations[m]} for m in RANKING_METRICS]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
