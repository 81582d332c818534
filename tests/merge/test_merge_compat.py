"""The compatibility criteria on planted examples: overlaps, signal ranks, verdicts, and what spectral-auto picks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from netspectra.merge import Thresholds, auto_rule, layer_compatibility
from netspectra.merge.compat import excess_overlap, signal_rank, subspace_overlap
from netspectra.merge.methods import Decomposition


def orthonormal(rng, n, k):
    q, _ = np.linalg.qr(rng.standard_normal((n, k)))
    return q


def planted_update(rng, u: np.ndarray, v: np.ndarray, strength: float = 1.0, noise: float = 0.01) -> np.ndarray:
    """A fine-tuning update: low-rank signal u diag(strength) v^T plus a little iid noise."""
    return strength * u @ v.T + noise * rng.standard_normal((u.shape[0], v.shape[0]))


def test_subspace_overlap_known_values():
    e = np.eye(6)
    assert subspace_overlap(e[:, :2], e[:, :2]) == 1.0
    assert subspace_overlap(e[:, :2], e[:, 2:4]) == 0.0
    assert subspace_overlap(e[:, :1], e[:, :3]) == 1.0  # nested: the smaller one lies in the larger
    tilted = (e[:, [0]] + e[:, [1]]) / np.sqrt(2)
    assert subspace_overlap(e[:, :1], tilted) == pytest.approx(0.5)  # cos^2 45 degrees
    assert excess_overlap(0.25, 0.25) == 0.0 and excess_overlap(1.0, 0.25) == 1.0
    assert excess_overlap(0.625, 0.25) == pytest.approx(0.5)


def test_signal_rank_counts_the_planted_spikes():
    rng = np.random.default_rng(0)
    n, m = 200, 100
    signal = orthonormal(rng, n, 3) @ np.diag([30.0, 20.0, 10.0]) @ orthonormal(rng, m, 3).T
    noisy = signal + rng.standard_normal((n, m)) * 0.1  # noise singular values about 0.1 (sqrt n + sqrt m) = 2.4
    assert signal_rank(Decomposition.of(noisy)) == 3
    assert signal_rank(Decomposition.of(signal)) == 3  # exactly rank 3: zero noise, the numerical rank
    assert signal_rank(Decomposition.of(np.zeros((n, m)))) == 0


@pytest.fixture
def layer():
    """A 120 x 80 base and three signal directions per side to plant updates along."""
    rng = np.random.default_rng(1)
    return rng, rng.standard_normal((120, 80)) * 0.1, orthonormal(rng, 120, 6), orthonormal(rng, 80, 6)


def test_fine_tunes_in_orthogonal_subspaces_are_compatible(layer):
    rng, base, u, v = layer
    m1 = base + planted_update(rng, u[:, :3], v[:, :3])
    m2 = base + planted_update(rng, u[:, 3:], v[:, 3:])
    c = layer_compatibility("w", [m1, m2], base)
    assert c.verdict == "compatible", c.reasons
    assert c.task_ranks == (3, 3)
    assert c.interference < 0.05
    assert c.rel_distance < 0.5
    assert auto_rule(c)[0] == "average"


def test_fine_tunes_in_the_same_subspace_interfere(layer):
    rng, base, u, v = layer
    m1 = base + planted_update(rng, u[:, :3], v[:, :3])
    m2 = base + planted_update(rng, u[:, :3], v[:, :3] @ orthonormal(rng, 3, 3))  # same span, rotated
    c = layer_compatibility("w", [m1, m2], base)
    assert c.verdict == "caution"
    assert c.interference > 0.9 and "interference" in c.reasons
    assert auto_rule(c)[0] == "star"  # rank 3 of min(120, 80) = 80: low-rank task vectors
    high_rank = auto_rule(c, Thresholds(low_rank=0.01))
    assert high_rank[0] == "tsv" and "interference" in high_rank[1]


def test_an_unrelated_model_is_incompatible(layer):
    rng, base, u, v = layer
    m1 = base + planted_update(rng, u[:, :3], v[:, :3])
    stranger = rng.standard_normal((120, 80)) * 0.1  # same shape and scale, another initialisation
    c = layer_compatibility("w", [m1, stranger], base)
    assert c.verdict == "incompatible"
    assert c.rel_distance > 0.9 and "rel_distance" in c.reasons
    without_base = layer_compatibility("w", [m1, stranger])
    assert without_base.verdict == "incompatible"
    assert math.isnan(without_base.interference) and without_base.task_ranks == ()


def test_a_rescaled_model_trips_the_norm_and_noise_level_ratios(layer):
    rng, base, u, v = layer
    m1 = base + planted_update(rng, u[:, :3], v[:, :3])
    c = layer_compatibility("w", [m1, 4.0 * m1])
    assert c.spectral_norm_ratio == pytest.approx(4.0)
    assert c.sigma2_ratio == pytest.approx(16.0)
    assert c.erank_spread == pytest.approx(0.0, abs=1e-9)  # scale-free
    assert c.verdict == "incompatible"
    assert "spectral_norm_ratio" in c.reasons and "sigma2_ratio" in c.reasons


def test_identical_models_are_compatible_with_zero_task_vectors(layer):
    _, base, _, _ = layer
    c = layer_compatibility("w", [base, base], base)
    assert c.verdict == "compatible" and c.reasons == ""
    assert c.task_ranks == (0, 0) and c.interference == 0.0 and c.rel_distance == 0.0


def test_decompositions_given_are_used_as_they_are(layer):
    rng, base, u, v = layer
    m1 = base + planted_update(rng, u[:, :3], v[:, :3])
    m2 = base + planted_update(rng, u[:, 3:], v[:, 3:])
    decs = [Decomposition.of(m1 - base), Decomposition.of(m2 - base)]
    assert layer_compatibility("w", [m1, m2], base, decs) == layer_compatibility("w", [m1, m2], base)
    swapped = layer_compatibility("w", [m1, m2], base, [decs[0], decs[0]])  # not recomputed from the models
    assert swapped.interference > 0.9


def test_merge_check_reads_the_columns_of_the_analysis_row():
    """Spikes were counted in three places; merge-check now reads the row that ``analyze`` gives the matrix."""
    from netspectra import analyze_array
    from netspectra.merge.compat import MatrixSpectrum

    rng = np.random.default_rng(5)
    w = rng.standard_normal((200, 80)) + 6 * np.outer(rng.standard_normal(200), rng.standard_normal(80)) / 10
    row = analyze_array(w)
    got = MatrixSpectrum.of(w)
    assert (got.effective_rank, got.spectral_norm, got.sigma2, got.spikes) == (
        row.effective_rank,
        row.spectral_norm,
        row.sigma2_mp,
        row.num_spikes,
    )
    assert row.num_spikes >= 1


def test_the_eigenvalues_a_rank_deficient_matrix_has_at_zero_are_not_spikes():
    """With more than half the eigenvalues zero the MP noise level is 0 and so is its edge: the row counted
    every rounding-level eigenvalue above 0 as a spike (55 of 100 here), merge-check did not; one rule now."""
    from netspectra import analyze_array

    rng = np.random.default_rng(6)
    w = rng.standard_normal((300, 10)) @ rng.standard_normal((10, 100))
    assert analyze_array(w).num_spikes == 10
