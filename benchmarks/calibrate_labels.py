"""How often each label is right: phases, warnings and the derived columns on ensembles with a known answer.

Run:  python benchmarks/calibrate_labels.py [--draws 20] [--sizes small|all] [--only NAME] [--digits] [--trained]

For every ensemble of :mod:`netspectra.rmt.ensembles` (pure Gaussian, Student-t, sparse noise; noise of
mixed column variances; planted spikes above the BBP threshold, 1 to 50 of them; planted power-law tails;
isometries; a column covariance decaying over decades) and every size (300 x 300 to 4096 x 1024, aspect
ratios 1 to 10), ``--draws`` independent matrices are analyzed with the default options and the rates
printed: the share of each phase and of the ``large-entries`` and ``over-trained`` warnings, how often
the spike columns are filled (they should be empty on pure noise, where no outlier is a signal) and how
often the level spacings are unfolded with the MP law (only where the bulk fits it).  The accepted
labels of each ensemble are marked; README ("Verdicts and how often they are right") quotes these tables.

``--digits`` adds the batch-size sweep of real training: the 64-256-256-10 MLP of
``benchmarks/track_digits.py`` trained by SGD (lr 0.05, 4000 steps) on scikit-learn's digits with batch
sizes 512 to 2, and the phase, alpha and structure index of its two hidden layers (Martin & Mahoney 2021
report alpha falling as the batch shrinks).

``--trained`` calibrates ``over-trained`` on models that are not: scikit-learn MLPs (Adam, 60 epochs) of
hidden widths 256-256 and 64-64 on the digits at batch sizes 8 to 512, two seeds each (test accuracy
0.96-0.98), and the phase, alpha with its interval and the warnings of their two hidden layers.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections import Counter
from collections.abc import Callable

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from netspectra import analyze_array  # noqa: E402
from netspectra.rmt import ensembles  # noqa: E402

#: (name, generator, accepted phases) of every ensemble; the first accepted phase is the expected one.
ENSEMBLES: tuple[tuple[str, Callable[[int, int, np.random.Generator], np.ndarray], tuple[str, ...]], ...] = (
    ("gaussian", ensembles.gaussian, ("random-like",)),
    ("student-t 5", lambda n, m, rng: ensembles.student_t(n, m, 5.0, rng), ("random-like",)),
    ("student-t 2.5", lambda n, m, rng: ensembles.student_t(n, m, 2.5, rng), ("random-like",)),
    ("student-t 1.5", lambda n, m, rng: ensembles.student_t(n, m, 1.5, rng), ("random-like",)),
    ("sparse 5%", lambda n, m, rng: ensembles.sparse(n, m, 0.05, rng), ("random-like",)),
    ("sparse 1%", lambda n, m, rng: ensembles.sparse(n, m, 0.01, rng), ("random-like",)),
    (
        "mixed noise (column variances 0.1-1.9)",
        lambda n, m, rng: ensembles.mixed_noise(n, m, 0.9, rng),
        ("bulk-decay", "bleeding-out"),
    ),
    ("spikes x=4,5,6", lambda n, m, rng: ensembles.spiked(n, m, [4.0, 5.0, 6.0], rng), ("bulk+spikes",)),
    ("spike x=1.5", lambda n, m, rng: ensembles.spiked(n, m, [1.5], rng), ("bleeding-out", "bulk+spikes")),
    ("power law alpha=2.5", lambda n, m, rng: ensembles.power_law_tail(n, m, 2.5, rng), ("heavy-tailed",)),
    ("power law alpha=4", lambda n, m, rng: ensembles.power_law_tail(n, m, 4.0, rng), ("heavy-tailed",)),
    ("rank 10, x=2-6", lambda n, m, rng: ensembles.spiked(n, m, np.geomspace(2.0, 6.0, 10), rng), ("bulk+spikes",)),
    ("rank 20, x=4", lambda n, m, rng: ensembles.spiked(n, m, np.full(20, 4.0), rng), ("bulk+spikes",)),
    ("rank 50, x=2-6", lambda n, m, rng: ensembles.spiked(n, m, np.geomspace(2.0, 6.0, 50), rng), ("bulk+spikes",)),
    ("rank 50, x=4", lambda n, m, rng: ensembles.spiked(n, m, np.full(50, 4.0), rng), ("bulk+spikes",)),
    ("isometry", ensembles.isometry, ("isometric",)),
    ("column covariance exp(-i/50)", lambda n, m, rng: ensembles.decaying_covariance(n, m, 50.0, rng), ("bulk-decay",)),
)
SIZES = {
    "small": ((300, 300), (1000, 500), (1500, 150)),
    "all": ((300, 300), (1000, 500), (1500, 150), (1024, 1024), (3000, 300), (4096, 1024)),
}


def rates(generate: Callable[[int, int, np.random.Generator], np.ndarray], n: int, m: int, draws: int) -> dict[str, float]:
    """Shares of labels and filled columns over ``draws`` matrices of one ensemble and size."""
    phases: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for seed in range(draws):
        layer = analyze_array(generate(n, m, np.random.default_rng(seed)))
        phases[layer.phase or "(none)"] += 1
        counts["large-entries"] += "large-entries" in layer.warnings
        counts["over-trained"] += "over-trained" in layer.warnings
        counts["spike columns"] += math.isfinite(layer.spike_strength_max)
        counts["mp unfolding"] += layer.spacing_unfolding == "mp"
    out = {f"phase {k}": v / draws for k, v in phases.items()}
    out.update({k: v / draws for k, v in counts.items()})
    return out


def digits_sweep(batches: tuple[int, ...] = (512, 128, 32, 8, 2), steps: int = 4000) -> None:
    """Train the digits MLP once per batch size and print the verdict on its hidden layers (needs torch)."""
    import torch
    from track_digits import digits, gaussian_mlp

    torch.set_num_threads(1)
    x_tr, y_tr, x_te, y_te = digits(0)
    print("\n| batch | layer | test accuracy | alpha | structure index | p_bulk_mp | phase |")
    print("|---|---|---|---|---|---|---|")
    for batch in batches:
        model = gaussian_mlp(0)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        generator = torch.Generator().manual_seed(0)
        for _ in range(steps):
            idx = torch.randint(0, len(x_tr), (batch,), generator=generator)
            loss = torch.nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            accuracy = (model(x_te).argmax(1) == y_te).float().mean().item()
        for name in ("fc1", "fc2"):
            layer = analyze_array(getattr(model, name).weight.detach().double().numpy(), name=name)
            print(
                f"| {batch} | {name} | {accuracy:.3f} | {layer.alpha:.2f} | {layer.structure_index:.3f} | "
                f"{layer.p_bulk_mp:.2g} | {layer.phase} |",
                flush=True,
            )


def trained_sweep(
    hidden: tuple[tuple[int, int], ...] = ((256, 256), (64, 64)), batches: tuple[int, ...] = (8, 32, 128, 512)
) -> None:
    """scikit-learn digits MLPs (Adam, 60 epochs, two seeds per setting) and the readings of their hidden layers."""
    import warnings

    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x / 16.0, y, test_size=0.25, stratify=y, random_state=0)
    print("\n| hidden | batch | seed | test accuracy | layer | phase | alpha [lo, hi] | warnings |")
    print("|---|---|---|---|---|---|---|---|")
    flagged = total = 0
    for widths in hidden:
        for batch in batches:
            for seed in (0, 1):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    clf = MLPClassifier(hidden_layer_sizes=widths, batch_size=batch, max_iter=60, random_state=seed)
                    clf.fit(x_tr, y_tr)
                accuracy = clf.score(x_te, y_te)
                for index, coef in enumerate(clf.coefs_[:2]):
                    layer = analyze_array(coef.T, name=f"fc{index}")
                    flagged += "over-trained" in layer.warnings
                    total += 1
                    print(
                        f"| {widths[0]}-{widths[1]} | {batch} | {seed} | {accuracy:.3f} | fc{index} {layer.N}x{layer.M} | "
                        f"{layer.phase} | {layer.alpha:.2f} [{layer.alpha_lo:.2f}, {layer.alpha_hi:.2f}] | {layer.warning} |",
                        flush=True,
                    )
    print(f"\nover-trained: {flagged} of {total} layers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--sizes", choices=sorted(SIZES), default="small")
    parser.add_argument("--only", default="", help="only the ensembles whose name contains this")
    parser.add_argument("--digits", action="store_true", help="also the digits batch-size sweep (needs torch)")
    parser.add_argument(
        "--trained", action="store_true", help="also the over-trained calibration on digits MLPs (needs scikit-learn)"
    )
    args = parser.parse_args()
    start = time.perf_counter()
    print("| ensemble | N x M | accepted | right | phases | large-entries | over-trained | spike columns | MP unfolding |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, generate, accepted in (e for e in ENSEMBLES if args.only in e[0]):
        for n, m in SIZES[args.sizes]:
            r = rates(generate, n, m, args.draws)
            right = sum(r.get(f"phase {phase}", 0.0) for phase in accepted)
            phases = ", ".join(f"{k[6:]} {v:.0%}" for k, v in sorted(r.items(), key=lambda kv: -kv[1]) if k.startswith("phase "))
            print(
                f"| {name} | {n} x {m} | {' or '.join(accepted)} | {right:.0%} | {phases} | {r['large-entries']:.0%} | "
                f"{r['over-trained']:.0%} | {r['spike columns']:.0%} | {r['mp unfolding']:.0%} |",
                flush=True,
            )
    if args.digits:
        digits_sweep()
    if args.trained:
        trained_sweep()
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
