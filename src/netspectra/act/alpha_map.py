"""The linear map from layer alphas to per-layer factors that AlphaPruning and TempBalance share.

Both map each layer's power-law exponent linearly onto a range [s1, s2]: the layer with the smallest
alpha (the best trained) to s1, the largest to s2 (AlphaPruning, Lu et al., NeurIPS 2024: relative
pruning ratios; TempBalance, Zhou et al., NeurIPS 2023: learning-rate factors):

    f_i = s1 + (s2 - s1) (alpha_i - min alpha) / (max alpha - min alpha).

A layer without a fitted alpha (NaN) gets 1, as does every layer when fewer than two alphas are fitted
or all are equal.
"""

from __future__ import annotations

import numpy as np


def linear_alpha_map(alphas: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """f_i per layer (module docstring)."""
    alphas = np.asarray(alphas, dtype=np.float64)
    s1, s2 = value_range
    values = np.ones_like(alphas)
    fitted = np.isfinite(alphas)
    if fitted.sum() >= 2 and np.ptp(alphas[fitted]) > 0:
        values[fitted] = s1 + (s2 - s1) * (alphas[fitted] - alphas[fitted].min()) / np.ptp(alphas[fitted])
    return values
