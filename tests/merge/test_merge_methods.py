"""The merge rules on arrays: hand-computed answers, closed forms, and the identities every rule must keep."""

from __future__ import annotations

import numpy as np
import pytest

from netspectra.merge import methods as mm


def orthonormal(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal((n, k)))
    return q


def test_linear_matches_a_hand_computation():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([[5.0, 6.0], [7.0, 8.0]])
    # (1 a + 3 b) / 4
    np.testing.assert_array_equal(mm.linear([a, b], [1.0, 3.0]), [[4.0, 5.0], [6.0, 7.0]])


def test_task_arithmetic_uses_raw_weights_and_scale():
    base = np.zeros(3)
    m1, m2 = np.array([1.0, 2.0, 3.0]), np.array([0.0, -1.0, 1.0])
    # 0 + 2 * (1 * m1 + 0.5 * m2) = 2 * [1, 1.5, 3.5]
    np.testing.assert_array_equal(mm.task_arithmetic(base, [m1, m2], [1.0, 0.5], scale=2.0), [2.0, 3.0, 7.0])


def test_weighted_average_is_the_linear_merge_at_scale_one():
    rng = np.random.default_rng(0)
    base, m1, m2 = (rng.standard_normal((5, 4)) for _ in range(3))
    average = mm.weighted_average(base, [m1, m2], [2.0, 1.0])
    np.testing.assert_allclose(average, mm.linear([m1, m2], [2.0, 1.0]), rtol=1e-12)
    np.testing.assert_allclose(mm.weighted_average(base, [m1, m2], [1.0, 1.0], scale=0.0), base)


def test_trim_keeps_exactly_the_largest_magnitudes():
    tau = np.array([[0.1, -5.0, 0.3], [2.0, -0.2, 4.0]])
    np.testing.assert_array_equal(mm.trim(tau, 0.5), [[0.0, -5.0, 0.0], [2.0, 0.0, 4.0]])  # ceil(0.5 * 6) = 3
    np.testing.assert_array_equal(mm.trim(tau, 0.1), [[0.0, -5.0, 0.0], [0.0, 0.0, 0.0]])  # ceil(0.6) = 1
    np.testing.assert_array_equal(mm.trim(tau, 1.0), tau)
    with pytest.raises(ValueError):
        mm.trim(tau, 0.0)


def test_ties_trim_elect_disjoint_mean_by_hand():
    base = np.ones(5)
    tau1 = np.array([3.0, -1.0, 0.5, -2.0, 2.0])
    tau2 = np.array([-1.0, -2.0, 0.2, 4.0, 4.0])
    # density 0.6 keeps 3 entries each: t1 = [3, 0, 0, -2, 2], t2 = [0, -2, 0, 4, 4]
    # elected signs (of t1 + t2 = [3, -2, 0, 2, 6]): +, -, 0, +, +
    # entry 3: only t2 (4) agrees; entry 4: both agree, mean (2 + 4) / 2 = 3
    merged = mm.ties(base, [base + tau1, base + tau2], [1.0, 1.0], density=0.6, scale=2.0)
    np.testing.assert_allclose(merged, 1.0 + 2.0 * np.array([3.0, -2.0, 0.0, 4.0, 3.0]))
    # weights (1, 3): the disjoint mean is weighted, entry 4 = (1 * 2 + 3 * 4) / 4 = 3.5
    weighted = mm.ties(base, [base + tau1, base + tau2], [1.0, 3.0], density=0.6)
    np.testing.assert_allclose(weighted, 1.0 + np.array([3.0, -2.0, 0.0, 4.0, 3.5]))


def test_star_rank_is_a_fraction_of_the_nuclear_norm_not_of_the_energy():
    s = np.array([4.0, 3.0, 2.0, 1.0])  # nuclear norm 10, cumulative 4, 7, 9, 10
    assert [mm.star_rank(s, eta) for eta in (0.1, 0.4, 0.5, 0.8, 0.95, 1.0)] == [1, 1, 2, 3, 4, 4]
    # an energy criterion would keep 1 component at 0.5 (16 / 30 of sum s^2); the nuclear norm needs 2
    assert mm.star_rank(np.zeros(3), 0.4) == 0
    with pytest.raises(ValueError):
        mm.star_rank(s, 1.5)


def test_star_truncates_and_rescales_to_the_same_nuclear_norm():
    rng = np.random.default_rng(1)
    u, v = orthonormal(rng, 7, 4), orthonormal(rng, 5, 4)
    tau = (u * [4.0, 3.0, 2.0, 1.0]) @ v.T
    out, r = mm.star_truncate(mm.Decomposition.of(tau), 0.5)
    assert r == 2
    s_out = np.linalg.svd(out, compute_uv=False)
    np.testing.assert_allclose(s_out[:2], np.array([4.0, 3.0]) * 10.0 / 7.0, rtol=1e-12)
    np.testing.assert_allclose(s_out[2:], 0.0, atol=1e-12)
    np.testing.assert_allclose(out, (u[:, :2] * (np.array([4.0, 3.0]) * 10 / 7)) @ v[:, :2].T, atol=1e-12)
    full, r_full = mm.star_truncate(mm.Decomposition.of(tau), 1.0)
    assert r_full == 4
    np.testing.assert_allclose(full, tau, atol=1e-12)


def test_star_merge_averages_the_truncated_task_vectors():
    rng = np.random.default_rng(2)
    base = rng.standard_normal((6, 5))
    taus = [rng.standard_normal((6, 5)) for _ in range(2)]
    decs = [mm.Decomposition.of(t) for t in taus]
    merged, ranks = mm.star(base, decs, [1.0, 3.0], eta=0.6, scale=2.0)
    expected = base + 2.0 * (0.25 * mm.star_truncate(decs[0], 0.6)[0] + 0.75 * mm.star_truncate(decs[1], 0.6)[0])
    np.testing.assert_allclose(merged, expected, atol=1e-12)
    assert ranks == [mm.star_rank(d.s, 0.6) for d in decs]


def test_polar_factor_matches_the_closed_form_and_handles_repeated_columns():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((8, 3))
    w, q = np.linalg.eigh(a.T @ a)
    np.testing.assert_allclose(mm.polar_factor(a), a @ (q / np.sqrt(w)) @ q.T, atol=1e-12)  # a (a^T a)^(-1/2)
    u = orthonormal(rng, 8, 2)
    doubled = np.concatenate([u, u], axis=1)  # rank 2: the factor must stay on u's range
    p = mm.polar_factor(doubled)
    np.testing.assert_allclose(p, np.concatenate([u, u], axis=1) / np.sqrt(2.0), atol=1e-12)


def test_tsv_of_non_interfering_task_vectors_is_their_sum():
    rng = np.random.default_rng(4)
    base = rng.standard_normal((6, 6))
    tau1, tau2 = np.zeros((6, 6)), np.zeros((6, 6))
    tau1[:3, :3] = rng.standard_normal((3, 3))  # disjoint rows and columns: orthogonal singular vectors
    tau2[3:, 3:] = rng.standard_normal((3, 3))
    merged, k = mm.tsv(base, [mm.Decomposition.of(tau1), mm.Decomposition.of(tau2)], [1.0, 1.0])
    assert k == 3
    np.testing.assert_allclose(merged, base + tau1 + tau2, atol=1e-12)


def test_tsv_whitens_overlapping_singular_vectors():
    e = np.eye(4)
    tau1 = np.outer(e[0], e[0])
    tau2 = np.outer((e[0] + e[1]) / np.sqrt(2.0), e[0])  # shares the right vector, half the left
    merged, _ = mm.tsv(np.zeros((4, 4)), [mm.Decomposition.of(tau1), mm.Decomposition.of(tau2)], [1.0, 1.0], k=1)
    # U = [e0, (e0 + e1)/sqrt2] with U^T U = [[1, c], [c, 1]], c = 1/sqrt2; V = [e0, e0], polar(V) = e0 [1, 1]/sqrt2.
    # polar(U) [1, 1]^T = U [1, 1]^T / sqrt(1 + c), so the merge is (e0 + (e0 + e1)/sqrt2) e0^T / sqrt(2 (1 + c)).
    c = 1 / np.sqrt(2.0)
    expected = np.outer(e[0] + (e[0] + e[1]) * c, e[0]) / np.sqrt(2 * (1 + c))
    np.testing.assert_allclose(merged, expected, atol=1e-12)
    summed = tau1 + tau2
    assert np.linalg.norm(merged, 2) < np.linalg.norm(summed, 2)  # the shared direction is not counted twice


@pytest.mark.parametrize("different_base", [False, True])
def test_merging_identical_models_returns_the_model_for_every_rule(different_base):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((7, 5))
    base = rng.standard_normal((7, 5)) if different_base else a
    models, w = [a, a], [0.5, 0.5]
    decs = [mm.Decomposition.of(t) for t in mm.task_vectors(base, models)]
    # with a base other than the model, each rule needs its lossless setting: no trimming, no truncation
    results = {
        "linear": mm.linear(models, [1.0, 2.0]),
        "task-arithmetic": mm.task_arithmetic(base, models, w),
        "average": mm.weighted_average(base, models, [1.0, 2.0]),
        "ties": mm.ties(base, models, w, density=1.0 if different_base else 0.2),
        "star": mm.star(base, decs, w, eta=1.0 if different_base else 0.4)[0],
        "tsv": mm.tsv(base, decs, w, k=5 if different_base else None)[0],
    }
    for rule, merged in results.items():
        np.testing.assert_allclose(merged, a, rtol=0, atol=1e-12, err_msg=rule)


def test_lossy_settings_do_change_a_merge_of_identical_models():
    """The control of the test above: trimming or truncating a non-zero task vector loses something."""
    rng = np.random.default_rng(5)
    a, base = rng.standard_normal((7, 5)), rng.standard_normal((7, 5))
    decs = [mm.Decomposition.of(a - base)] * 2
    assert not np.allclose(mm.ties(base, [a, a], [1, 1], density=0.2), a)
    assert not np.allclose(mm.star(base, decs, [1, 1], eta=0.4)[0], a)
    assert not np.allclose(mm.tsv(base, decs, [1, 1], k=1)[0], a)
