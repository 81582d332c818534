"""Norms, ranks and entropy of a spectrum: pure functions of the eigenvalues of W^T W / N.

Singular values of W are s_i = sqrt(N lambda_i), W is N x M with N >= M.
"""

from __future__ import annotations

import numpy as np


def stable_rank(eigenvalues: np.ndarray) -> float:
    """Stable rank ||W||_F^2 / ||W||_2^2 = sum(lambda) / lambda_max (Rudelson & Vershynin 2007)."""
    return float(np.sum(eigenvalues) / np.max(eigenvalues))


def shannon_entropy(p: np.ndarray) -> float:
    """H(p) = -sum p_i ln p_i for a probability vector, with 0 ln 0 = 0 (natural log)."""
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def effective_rank(eigenvalues: np.ndarray) -> float:
    """Roy–Vetterli effective rank exp(H(p)), p_i = s_i / sum_j s_j over the singular values s_i of W.

    Roy & Vetterli, "The effective rank: a measure of effective dimensionality", EUSIPCO 2007.
    Equals M for W with M equal singular values and 1 for a rank-1 matrix.
    """
    s = np.sqrt(np.clip(eigenvalues, 0.0, None))
    return float(np.exp(shannon_entropy(s / np.sum(s))))


def spectral_entropy(eigenvalues: np.ndarray) -> float:
    """Normalised matrix entropy H(p) / ln(M), p_i = lambda_i / sum_j lambda_j, in [0, 1].

    The "entropy" metric of Martin & Mahoney (JMLR 22(165), 2021): 1 for a flat spectrum, 0 for rank one.
    """
    lam = np.clip(eigenvalues, 0.0, None)
    if lam.size < 2:
        return 0.0
    return float(shannon_entropy(lam / np.sum(lam)) / np.log(lam.size))
