"""TempBalance vs a uniform learning rate on digits MLPs, over seeds.

64 -> 256 -> 256 -> 10 ReLU MLPs (torch, N(0, 1/fan_in) init), plain SGD with batch 32 for a fixed
number of steps on the digits training split; the same seeds with one learning rate for every layer and
with :class:`netspectra.act.tempbalance.TempBalance` (factors 0.5..1.5 of the same base rate, recomputed
every 100 steps).  Prints test accuracy per seed and the mean, for two base learning rates.

Run: ``python benchmarks/bench_tempbalance.py [--seeds 5 --steps 2000]``.  Every number is measured here.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from bench_compress import markdown  # noqa: E402

from netspectra.act.tempbalance import TempBalance, layer_param_groups  # noqa: E402


def data(seed: int) -> tuple[torch.Tensor, ...]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    parts = train_test_split(x / 16.0, y, test_size=0.25, random_state=seed)
    return tuple(torch.tensor(p, dtype=torch.float32 if p.dtype.kind == "f" else torch.long) for p in parts)


def train(seed: int, lr: float, steps: int, balanced: bool) -> float:
    torch.manual_seed(seed)
    x_tr, x_te, y_tr, y_te = data(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)
    )
    optimizer = torch.optim.SGD(layer_param_groups(model, lr), lr=lr)
    balance = TempBalance(optimizer, every=100) if balanced else None
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(x_tr), (32,), generator=generator)
        loss = torch.nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if balance is not None:
            balance.step()
    with torch.no_grad():
        return float((model(x_te).argmax(1) == y_te).float().mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for lr in (0.01, 0.05):
        uniform = [train(s, lr, args.steps, False) for s in range(args.seeds)]
        balanced = [train(s, lr, args.steps, True) for s in range(args.seeds)]
        rows.append(
            {
                "base lr": lr,
                "uniform mean": np.mean(uniform),
                "uniform sd": np.std(uniform),
                "TempBalance mean": np.mean(balanced),
                "TempBalance sd": np.std(balanced),
                "seeds better": f"{sum(b > u for b, u in zip(balanced, uniform))}/{args.seeds}",
                "seeds worse": f"{sum(b < u for b, u in zip(balanced, uniform))}/{args.seeds}",
            }
        )
    print(f"digits MLP 64-256-256-10, SGD batch 32, {args.steps} steps, {args.seeds} seeds, test accuracy\n")
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
