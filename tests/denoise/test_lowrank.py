"""One matrix: kept rank, shrinkage, errors, orientation, and predicted vs measured singular-vector overlaps."""

from __future__ import annotations

import numpy as np
import pytest

from netspectra.denoise import OrientedSVD, compress_matrix, compress_svd, planted_matrix
from netspectra.errors import MatrixError


def test_rank_one_spike_overlaps_match_benaych_georges_nadakuditi():
    """docs/formulas.md#spikes: x = 2 at 1000 x 500 gives |<u,u_hat>|^2 -> 0.775 and |<v,v_hat>|^2 -> 0.861."""
    rng = np.random.default_rng(2)
    pred_l, pred_r, meas_l, meas_r = [], [], [], []
    for _ in range(3):
        p = planted_matrix(1000, 500, [2.0], rng)
        layer, _ = compress_matrix(p.matrix, "gavish-donoho", reference=p.signal)
        assert layer.rank == 1
        pred_l += layer.pred_cos2_left
        pred_r += layer.pred_cos2_right
        meas_l += layer.measured_cos2_left
        meas_r += layer.measured_cos2_right
    assert np.mean(pred_l) == pytest.approx(0.775, abs=0.02) and np.mean(pred_r) == pytest.approx(0.8611, abs=0.02)
    assert np.mean(meas_l) == pytest.approx(0.775, abs=0.025) and np.mean(meas_r) == pytest.approx(0.8611, abs=0.025)


def test_predicted_overlaps_track_measured_ones_per_component():
    p = planted_matrix(800, 400, [4.0, 2.5, 1.6], np.random.default_rng(3))
    layer, _ = compress_matrix(p.matrix, "mp-edge", reference=p.signal)
    assert layer.rank == 3
    assert np.allclose(layer.pred_cos2_left, layer.measured_cos2_left, atol=0.06)
    assert np.allclose(layer.pred_cos2_right, layer.measured_cos2_right, atol=0.06)
    assert layer.pred_cos2_left[0] > layer.pred_cos2_left[1] > layer.pred_cos2_left[2]
    assert layer.mean_pred_cos2_left == pytest.approx(np.mean(layer.pred_cos2_left))


def test_stored_orientation_is_kept_and_results_do_not_depend_on_it():
    p = planted_matrix(300, 120, [3.0, 2.0], np.random.default_rng(4))
    tall, tall_f = compress_matrix(p.matrix, "bema", "frobenius")
    wide, wide_f = compress_matrix(p.matrix.T, "bema", "frobenius")
    assert not tall.transposed and wide.transposed
    assert (tall.N, tall.M, wide.N, wide.M) == (300, 120, 300, 120)
    assert tall_f.dense().shape == (300, 120) and wide_f.dense().shape == (120, 300)
    assert wide_f.left.shape == (120, 2) and wide_f.right.shape == (2, 300)
    assert np.allclose(wide_f.dense(), tall_f.dense().T)
    assert tall.rank == wide.rank == 2 and tall.rel_fro_error == pytest.approx(wide.rel_fro_error)
    assert tall.pred_cos2_left == pytest.approx(wide.pred_cos2_left)


@pytest.mark.parametrize("shrink", ["hard", "frobenius", "operator", "nuclear"])
def test_errors_are_those_of_the_rebuilt_matrix(shrink):
    p = planted_matrix(200, 150, [5.0, 3.0, 2.0], np.random.default_rng(5))
    layer, factors = compress_matrix(p.matrix.T, "mp-edge", shrink)
    diff = p.matrix.T - factors.dense()
    assert layer.rel_fro_error == pytest.approx(np.linalg.norm(diff) / np.linalg.norm(p.matrix), rel=1e-9)
    assert layer.rel_spec_error == pytest.approx(np.linalg.norm(diff, 2) / np.linalg.norm(p.matrix, 2), rel=1e-9)
    assert layer.params_factored == layer.rank * (200 + 150)


def test_keeping_everything_reproduces_the_matrix():
    w = np.random.default_rng(6).standard_normal((40, 30))
    layer, factors = compress_matrix(w, "rank:30")
    assert layer.rank == 30 and layer.rel_fro_error < 1e-12
    assert np.allclose(factors.dense(), w, atol=1e-12)


def test_frobenius_shrinkage_beats_hard_thresholding_against_the_true_signal():
    p = planted_matrix(600, 300, [3.0, 2.2, 1.6], np.random.default_rng(7))
    hard, _ = compress_matrix(p.matrix, "gavish-donoho", "hard", reference=p.signal)
    fro, _ = compress_matrix(p.matrix, "gavish-donoho", "frobenius", reference=p.signal)
    assert hard.rank == fro.rank == 3
    assert fro.signal_rel_error < hard.signal_rel_error - 0.03
    assert fro.rel_fro_error > hard.rel_fro_error  # farther from the noisy W, closer to the signal


def test_nuclear_shrinker_can_drop_a_kept_component_and_a_zero_matrix_is_flagged():
    p = planted_matrix(1000, 500, [1.0], np.random.default_rng(0))  # detected (x > 0.84) but weak
    layer, factors = compress_matrix(p.matrix, "mp-edge", "nuclear")
    assert layer.rank_selected == 1 and layer.rank == 0
    assert layer.warning and np.isnan(layer.mean_pred_cos2_left)
    assert factors.left.shape == (1000, 0) and not np.any(factors.dense())
    assert layer.rel_fro_error == pytest.approx(1.0)
    kept, _ = compress_matrix(p.matrix, "mp-edge", "frobenius")
    assert kept.rank == 1 and not kept.warning


def test_known_sigma_is_used_and_factored_params():
    p = planted_matrix(400, 100, [3.0], np.random.default_rng(9), sigma=0.2)
    layer, _ = compress_matrix(p.matrix, "gavish-donoho", sigma=0.2, factored=True, name="x", kind="embedding", dtype="BF16")
    assert layer.sigma == 0.2 and layer.rank == 1
    assert layer.params_after == layer.params_factored == 500 and layer.params_before == 40000
    assert (layer.name, layer.kind, layer.dtype) == ("x", "embedding", "BF16")
    assert (layer.method, layer.shrink) == ("gavish-donoho", "hard")
    full, _ = compress_matrix(p.matrix, "rank:100", factored=True)
    assert full.params_after == full.params_before  # factors would be larger: stays dense


def test_one_svd_serves_several_methods():
    p = planted_matrix(300, 100, [4.0, 1.2], np.random.default_rng(10))
    svd = OrientedSVD.of(p.matrix)
    ranks = {m: compress_svd(svd, m)[0].rank for m in ("mp-edge", "gavish-donoho", "bema")}
    assert ranks == {"mp-edge": 2, "gavish-donoho": 1, "bema": 2}
    assert compress_svd(svd, "rank:1")[0].to_dict() == compress_matrix(p.matrix, "rank:1")[0].to_dict()


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (np.ones(5), "2-D"),
        (np.zeros((0, 4)), "empty"),
        (np.zeros((4, 4)), "all-zero"),
        (np.array([[1.0, np.nan], [0.0, np.inf]]), "2 NaN/Inf"),
    ],
)
def test_unusable_matrices_raise_matrix_error(matrix, message):
    with pytest.raises(MatrixError, match=message):
        compress_matrix(matrix, "mp-edge")


def test_bad_arguments():
    w = np.random.default_rng(11).standard_normal((20, 10))
    with pytest.raises(ValueError, match="reference signal has shape"):
        compress_matrix(w, "mp-edge", reference=np.zeros((10, 20)))
    with pytest.raises(ValueError, match="unknown shrinker"):
        compress_matrix(w, "mp-edge", "soft")
