"""The SGD noise temperature on digits MLPs: is the eigenvalue fluctuation variance linear in learning rate / batch size?

Run:  python benchmarks/bench_temperature.py [--steps 6000 --late 3000 --every 20 --seeds 2 --weight-decay 0.03]

Trains the 64-256-256-10 ReLU MLP of ``track_digits.py`` (W ~ N(0, 1/fan_in)) with SGD and weight decay on
the digits training split, for each (learning rate, batch size) of the grid and each seed, records the last
``--late`` steps every ``--every`` steps with :class:`netspectra.compare.track.SpectraTracker`, and reads each
layer's fluctuation variance with :func:`netspectra.compare.temperature.noise_temperature` (top 8
eigenvalues, linear drift removed).  Prints a Markdown table of every run and, per layer, the least-squares
line var = c (lr / B) + d over all runs with its R^2.

Weight decay gives the run a stationary state: without it the cross-entropy of a network that fits its
training set keeps shrinking, the gradient noise with it, and there is no stationary variance to measure
(measured: without weight decay the variance does not depend on the batch size).  BLAS and torch run on one
thread each (see ``track_digits.py``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from track_digits import digits, gaussian_mlp, markdown, sgd  # noqa: E402

from netspectra.compare.temperature import noise_temperature  # noqa: E402
from netspectra.compare.track import SpectraTracker  # noqa: E402
from netspectra.diagnose.options import AnalysisOptions  # noqa: E402

#: (learning rate, batch size): the batch size swept at lr 0.05, and two learning rates at B = 32 that land
#: on lr / B values of the sweep (is it the ratio that counts, or lr and B apart?).
GRID = ((0.05, 16), (0.05, 32), (0.05, 64), (0.05, 128), (0.025, 32), (0.1, 32))
LAYERS = ("fc1.weight", "fc2.weight")


def run(lr: float, batch: int, args: argparse.Namespace, seed: int, data: tuple[torch.Tensor, ...]) -> dict[str, float]:
    """Train one model, record its late steps, return test accuracy and each layer's fluctuation variance."""
    model = gaussian_mlp(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=args.weight_decay)
    tracker = SpectraTracker(model, every=args.every, options=AnalysisOptions(depth=False))
    late = args.steps - args.late
    accuracy = sgd(model, opt, data, batch, args.steps, seed, lambda step: tracker.step(step) if step >= late else None)
    temperature = {row.layer: row for row in noise_temperature(tracker.trajectory, late=1.0).layers}
    out: dict[str, float] = {"lr": lr, "B": batch, "seed": seed, "lr/B": lr / batch, "test acc": accuracy}
    for layer in LAYERS:
        name = layer.removesuffix(".weight")
        out[f"{name} var"] = temperature[layer].variance
        out[f"{name} lag-1"] = temperature[layer].autocorrelation
    return out


def linear_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least-squares y = c x + d: (c, d, R^2)."""
    c, d = np.polyfit(x, y, 1)
    residual = y - (c * x + d)
    return float(c), float(d), float(1.0 - np.sum(residual**2) / np.sum((y - y.mean()) ** 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--late", type=int, default=3000, help="record the last LATE steps")
    parser.add_argument("--every", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--weight-decay", type=float, default=0.03)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = digits(0)
    start = time.perf_counter()
    rows = [run(lr, batch, args, seed, data) for lr, batch in GRID for seed in range(args.seeds)]
    frame = pd.DataFrame(rows)
    print(
        f"digits MLP 64-256-256-10, SGD with weight decay {args.weight_decay:g}, {args.steps} steps, the last "
        f"{args.late} recorded every {args.every} ({time.perf_counter() - start:.0f} s)\n"
    )
    print(markdown(frame))
    print()
    fits = []
    sweep = frame[frame.lr == GRID[0][0]]
    for runs, label in ((frame, "all runs"), (sweep, f"batch sweep at lr {GRID[0][0]:g}")):
        for layer in LAYERS:
            name = layer.removesuffix(".weight")
            c, d, r2 = linear_fit(runs["lr/B"].to_numpy(), runs[f"{name} var"].to_numpy())
            largest = runs[f"{name} var"].max()
            fits.append({"runs": label, "layer": name, "slope c": c, "intercept d": d, "d / largest var": d / largest, "R^2": r2})
    print(markdown(pd.DataFrame(fits)))


if __name__ == "__main__":
    main()
