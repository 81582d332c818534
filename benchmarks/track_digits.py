"""Spectra leaving Marchenko–Pastur while MLPs learn scikit-learn's digits, tracked by SpectraTracker.

Run:  python benchmarks/track_digits.py --out docs [--steps 3000 --every 100 --seed 0]

Trains a 64-256-256-10 ReLU MLP (weights drawn from N(0, 1/fan_in), so every spectrum starts as
Marchenko–Pastur; biases zero) with plain SGD on the 1347-image training split of the digits data, for
each learning rate x batch size in the grid, recording every ``--every`` steps with
:class:`netspectra.compare.track.SpectraTracker`.  Prints a Markdown table per hidden layer (start ->
end of the MP area A, tail weight 1 - A, width sigma^2, spikes, spacing ratio <r>, alpha, test
accuracy) and writes into ``--out``:

* ``track_digits.png``: tail weight, sigma^2 and <r> against step for every configuration (fc1, fc2);
* ``track_digits_esd.png``: the ESD of fc2 at step 0 and at the end of the largest-lr run, with the
  fitted A x MP(sigma^2) density;
* ``track_digits_plots/``: the tracker's own figures (``plot_trajectory``) for that run;
* ``track_digits.csv``: every trajectory (long format, with ``lr`` and ``batch`` columns).

BLAS and torch are pinned to one thread each: on a shared 2-core machine threaded BLAS makes a
256 x 256 eigendecomposition ten times slower.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
from collections import OrderedDict  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from torch import nn  # noqa: E402

from netspectra.compare.track import SpectraTracker, Trajectory  # noqa: E402
from netspectra.compare.track_plots import plot_trajectory  # noqa: E402
from netspectra.diagnose.options import AnalysisOptions  # noqa: E402
from netspectra.pipeline import analyze  # noqa: E402
from netspectra.rmt.marchenko_pastur import mp_pdf  # noqa: E402
from netspectra.rmt.mp_bulk import fit_mp_bulk  # noqa: E402
from netspectra.rmt.spacing import GOE_MEAN_RATIO, POISSON_MEAN_RATIO  # noqa: E402

LEARNING_RATES = (0.01, 0.05, 0.25)
BATCH_SIZES = (16, 128)
HIDDEN = ("fc1.weight", "fc2.weight")


def digits(seed: int) -> tuple[torch.Tensor, ...]:
    """Standardized digits (scaler fitted on the training split), 75/25 stratified split."""
    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, stratify=y, random_state=seed)
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-8
    as_x = lambda a: torch.tensor((a - mean) / std, dtype=torch.float32)  # noqa: E731
    return as_x(x_tr), torch.tensor(y_tr), as_x(x_te), torch.tensor(y_te)


def gaussian_mlp(seed: int) -> nn.Sequential:
    """64-256-256-10 ReLU MLP, W ~ N(0, 1/fan_in), b = 0: each W^T W / N starts Marchenko–Pastur."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(64, 256),
            act1=nn.ReLU(),
            fc2=nn.Linear(256, 256),
            act2=nn.ReLU(),
            out=nn.Linear(256, 10),
        )
    )
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0.0, layer.in_features**-0.5)
            nn.init.zeros_(layer.bias)
    return model


def train(lr: float, batch: int, steps: int, every: int, seed: int, data) -> tuple[Trajectory, float, nn.Module]:
    """SGD for ``steps`` minibatches (sampled with replacement), tracked every ``every`` steps."""
    model = gaussian_mlp(seed)
    tracker = SpectraTracker(model, every=every)
    accuracy = sgd(model, torch.optim.SGD(model.parameters(), lr=lr), data, batch, steps, seed, tracker.step)
    return tracker.trajectory, accuracy, model


def sgd(
    model: nn.Module, opt: torch.optim.Optimizer, data, batch: int, steps: int, seed: int, record: Callable[[int], object]
) -> float:
    """``steps`` minibatch steps of ``opt`` on the cross-entropy (minibatches sampled with replacement by a generator
    seeded ``seed``), ``record(step)`` before each step and after the last; returns the test accuracy."""
    x_tr, y_tr, x_te, y_te = data
    gen = torch.Generator().manual_seed(seed)
    for step in range(steps + 1):
        record(step)
        if step == steps:
            break
        idx = torch.randint(0, len(x_tr), (batch,), generator=gen)
        loss = nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return (model(x_te).argmax(1) == y_te).float().mean().item()


def summary_rows(frame: pd.DataFrame, accuracy: float, lr: float, batch: int) -> list[dict]:
    """Start and end values of the tracked quantities for each hidden layer."""
    rows = []
    first, last = frame.step.min(), frame.step.max()
    for layer in HIDDEN:
        start = frame[(frame.layer == layer) & (frame.step == first)].iloc[0]
        end = frame[(frame.layer == layer) & (frame.step == last)].iloc[0]
        rows.append(
            {
                "layer": layer.removesuffix(".weight"),
                "lr": lr,
                "B": batch,
                "lr/B": lr / batch,
                "test acc": accuracy,
                "A": f"{start.area:.3f} → {end.area:.3f}",
                "1−A end": end.tail_weight,
                "σ² end/start": end.sigma2 / start.sigma2,
                "spikes": f"{start.num_spikes} → {end.num_spikes}",
                "⟨r⟩": f"{start.spacing_ratio:.3f} → {end.spacing_ratio:.3f}",
                "α": f"{start.alpha:.2f} → {end.alpha:.2f}",
            }
        )
    return rows


def figure_dynamics(frame: pd.DataFrame, path: Path) -> None:
    """Tail weight, sigma^2 (relative to step 0) and <r> against step: one line per configuration."""
    fig = Figure(figsize=(11, 9), layout="constrained")
    axes = fig.subplots(3, 2, sharex=True)
    colors = dict(zip(LEARNING_RATES, ("tab:blue", "tab:orange", "tab:red")))
    styles = dict(zip(BATCH_SIZES, ("-", "--")))
    for col, layer in enumerate(HIDDEN):
        for (lr, batch), run in frame[frame.layer == layer].groupby(["lr", "batch"]):
            run = run.sort_values("step")
            kw = dict(color=colors[lr], linestyle=styles[batch], label=f"lr={lr:g}, B={batch}")
            axes[0, col].plot(run.step, run.tail_weight, **kw)
            axes[1, col].plot(run.step, run.sigma2 / run.sigma2.iloc[0], **kw)
            axes[2, col].plot(run.step, run.spacing_ratio, **kw)
        n, m = frame[frame.layer == layer].iloc[0][["N", "M"]]
        axes[0, col].set_title(f"{layer.removesuffix('.weight')} ({n} x {m})")
        axes[0, col].set_ylabel("tail weight 1 − A")
        axes[1, col].set_ylabel("MP width σ² / σ²(step 0)")
        axes[2, col].set_ylabel(r"mean spacing ratio $\langle r \rangle$")
        axes[2, col].axhline(GOE_MEAN_RATIO, color="gray", linestyle="--", linewidth=0.8)
        axes[2, col].axhline(POISSON_MEAN_RATIO, color="gray", linestyle=":", linewidth=0.8)
        axes[2, col].set_xlabel("SGD step")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    axes[2, 0].text(0, GOE_MEAN_RATIO, " GOE", va="bottom", fontsize=8, color="gray")
    axes[2, 0].text(0, POISSON_MEAN_RATIO, " Poisson", va="bottom", fontsize=8, color="gray")
    fig.savefig(path, dpi=100)


def figure_esd(start: np.ndarray, end: np.ndarray, n: int, m: int, title: str, path: Path) -> None:
    """Histograms of the eigenvalues of W^T W / N at step 0 and at the end, with MP(sigma^2) fits.

    The fitted density is scaled by the fraction of eigenvalues in the bulk (the histogram is normalised
    over all of them); A in the legend is the fraction of the trace in the bulk.
    """
    fig = Figure(figsize=(11, 4), layout="constrained")
    for ax, evals, label in zip(fig.subplots(1, 2), (start, end), ("step 0", "end")):
        fit = fit_mp_bulk(evals, n, m, level=AnalysisOptions.tw_level)
        ax.hist(evals, bins=80, density=True, alpha=0.6, label="eigenvalues of W^T W / N")
        x = np.linspace(0, fit.edge * 1.05, 400)
        ax.plot(
            x,
            fit.count_fraction * mp_pdf(x, m / n, fit.sigma2),
            color="k",
            label=f"MP fit: σ²={fit.sigma2:.2e}, A={fit.area:.2f}",
        )
        ax.axvline(fit.edge, color="gray", linestyle=":", label=f"bulk edge (TW {AnalysisOptions.tw_level:g})")
        ax.set_xscale("symlog", linthresh=fit.edge)
        ax.set_yscale("log")
        ax.set_title(f"{title}, {label}: {int(np.sum(evals > fit.edge))} eigenvalues above the edge")
        ax.set_xlabel("λ (symlog axis, linear below the edge)")
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=100)


def markdown(table: pd.DataFrame) -> str:
    """A Markdown table, floats with 4 significant digits."""
    cell = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * table.shape[1]]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = digits(args.seed)
    frames, rows = [], []
    started = time.perf_counter()
    for batch in BATCH_SIZES:
        for lr in LEARNING_RATES:
            trajectory, accuracy, model = train(lr, batch, args.steps, args.every, args.seed, data)
            frame = trajectory.to_frame().assign(lr=lr, batch=batch)
            frames.append(frame)
            rows += summary_rows(frame, accuracy, lr, batch)
            if (lr, batch) == (max(LEARNING_RATES), min(BATCH_SIZES)):
                plots = args.out / "track_digits_plots"
                plots.mkdir(parents=True, exist_ok=True)
                plot_trajectory(trajectory, plots)
                end = analyze(model, include="fc2").layers[0]
                begin = analyze(gaussian_mlp(args.seed), include="fc2").layers[0]
                figure_esd(
                    begin.eigenvalues,
                    end.eigenvalues,
                    end.N,
                    end.M,
                    f"fc2, lr={lr:g}, B={batch}",
                    args.out / "track_digits_esd.png",
                )
            print(f"lr={lr:g} B={batch}: test accuracy {accuracy:.3f} ({time.perf_counter() - started:.0f} s)", flush=True)
    all_frames = pd.concat(frames, ignore_index=True)
    all_frames.to_csv(args.out / "track_digits.csv", index=False)
    figure_dynamics(all_frames, args.out / "track_digits.png")
    table = pd.DataFrame(rows).sort_values(["layer", "B", "lr"])
    print(markdown(table))
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
