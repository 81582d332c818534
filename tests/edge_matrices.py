"""Numerically awkward matrices, each with the status and warning fragment ``analyze`` must give it."""

from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

rng = np.random.default_rng(0)

CASES = {
    "all_zero": (np.zeros((64, 32)), "error", "all-zero"),
    "rank_one": (np.outer(rng.standard_normal(64), rng.standard_normal(32)), "fit-failed", "rank-collapse"),
    "constant": (np.full((64, 32), 0.5), "fit-failed", "rank-collapse"),
    "nan": (np.where(rng.random((64, 32)) < 0.01, np.nan, 1.0), "error", "NaN/Inf"),
    "inf": (np.where(rng.random((64, 32)) < 0.01, np.inf, 1.0), "error", "NaN/Inf"),
    "subnormal": (rng.standard_normal((64, 32)) * 1e-310, "error", "underflow"),
    "huge": (rng.standard_normal((64, 32)) * 1e200, "error", "overflow"),
    # max |w| sqrt(N) < sqrt(max float64), yet ||W||_F^2 = N M 1e306 overflows: the bound needs N M
    "large_1e153": (rng.choice([-1.0, 1.0], size=(64, 32)) * 1e153, "error", "overflow"),
    "tiny_2x2": (rng.standard_normal((2, 2)), "fit-failed", "fit-failed"),
    "row_1x4096": (rng.standard_normal((1, 4096)), "error", "single eigenvalue"),
    "column_4096x1": (rng.standard_normal((4096, 1)), "error", "single eigenvalue"),
    "orthogonal": (np.linalg.qr(rng.standard_normal((64, 64)))[0], "fit-failed", "fit-failed"),
    "duplicated_singular_values": (
        np.linalg.qr(rng.standard_normal((128, 64)))[0] @ np.diag(np.repeat([1.0, 2.0, 3.0, 4.0], 16)),
        "ok",
        "",
    ),
    "gaussian_64x32": (rng.standard_normal((64, 32)), "ok", ""),
}


def write_edge_model(path: Path) -> Path:
    """A safetensors file with one tensor ``NAME.weight`` per case."""
    save_file({f"{name}.weight": w for name, (w, _, _) in CASES.items()}, str(path))
    return path
