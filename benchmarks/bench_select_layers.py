"""Fine-tuning the layers select-layers picks vs the ones it leaves, on digits MLPs.

A 64 -> 128 x 4 -> 10 ReLU MLP (torch) is trained on digits 0-4 only, then fine-tuned on all ten
digits for a few hundred SGD steps with only two of its four hidden matrices trainable (plus the output
layer): the two with the highest signal-to-noise ratio above the MP edge (what ``netspectra
select-layers --top 0.5 --global`` picks), the two with the lowest, or all four (the reference).  Test
accuracy on all ten digits, over seeds.

Run: ``python benchmarks/bench_select_layers.py [--seeds 5]``.  Every number is measured in this run.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from bench_compress import markdown  # noqa: E402

from netspectra.act.selection import layer_snr  # noqa: E402

HIDDEN = ("1", "3", "5", "7")  # indices of the hidden Linear layers in the Sequential


def _data(seed: int):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x / 16.0, y, test_size=0.3, random_state=seed)
    as_t = lambda a, f: torch.tensor(a, dtype=torch.float32 if f else torch.long)  # noqa: E731
    return as_t(x_tr, True), as_t(x_te, True), as_t(y_tr, False), as_t(y_te, False)


def _sgd(model, params, x, y, steps: int, lr: float, seed: int) -> None:
    optimizer = torch.optim.SGD(params, lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (32,), generator=generator)
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def run(seed: int) -> dict[str, float]:
    torch.manual_seed(seed)
    x_tr, x_te, y_tr, y_te = _data(seed)
    layers = [torch.nn.Linear(64, 128), torch.nn.ReLU()]
    for _ in range(3):
        layers += [torch.nn.Linear(128, 128), torch.nn.ReLU()]
    pretrained = torch.nn.Sequential(*layers, torch.nn.Linear(128, 10))
    first = y_tr < 5
    _sgd(pretrained, pretrained.parameters(), x_tr[first], y_tr[first], 3000, 0.05, seed)
    names = [f"{i}" for i, m in enumerate(pretrained) if isinstance(m, torch.nn.Linear)][:-1]
    scores = {}
    for name in names:
        w = pretrained[int(name)].weight.detach().numpy().astype(np.float64)
        w = w if w.shape[0] >= w.shape[1] else w.T
        scores[name] = layer_snr(np.linalg.eigvalsh(w.T @ w / w.shape[0]), w.shape[0], w.shape[1])[0]
    ranked = sorted(names, key=lambda n: -scores[n])
    out = {}
    for label, chosen in (("top-2 SNR", ranked[:2]), ("bottom-2 SNR", ranked[-2:]), ("all four", names)):
        model = torch.nn.Sequential(*[type(m)() if isinstance(m, torch.nn.ReLU) else m for m in pretrained])
        model.load_state_dict(pretrained.state_dict())
        trainable = [p for i, m in enumerate(model) if str(i) in chosen or i == len(model) - 1 for p in m.parameters()]
        for p in model.parameters():
            p.requires_grad_(any(p is q for q in trainable))
        _sgd(model, trainable, x_tr, y_tr, 300, 0.05, seed + 100)
        with torch.no_grad():
            out[label] = float((model(x_te).argmax(1) == y_te).float().mean())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results = [run(seed) for seed in range(args.seeds)]
    rows = [
        {
            "fine-tuned hidden layers": label,
            "test accuracy mean": np.mean([r[label] for r in results]),
            "sd": np.std([r[label] for r in results]),
            "seeds above bottom-2": f"{sum(r[label] > r['bottom-2 SNR'] for r in results)}/{args.seeds}",
        }
        for label in results[0]
    ]
    print(f"digits MLP 64-128x4-10 pretrained on digits 0-4, fine-tuned 300 SGD steps on 0-9, {args.seeds} seeds\n")
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
