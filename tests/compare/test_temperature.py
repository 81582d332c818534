"""The SGD noise temperature (issue 27, item 8): eigenvalue fluctuations of a planted matrix Ornstein-Uhlenbeck
(Dyson Brownian motion) process, whose stationary variance is known in closed form, through the function and
through ``netspectra track --temperature``."""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from netspectra.cli import main
from netspectra.compare.temperature import MIN_LATE_CHECKPOINTS, fluctuation, noise_temperature
from netspectra.compare.track import track_checkpoints
from netspectra.errors import UsageError

SPIKES = (6.0, 5.0, 4.0, 3.0)  # planted eigenvalues of W*^T W* / N are their squares


def planted_run(n, m, s, a, checkpoints, every, drift=0.0, seed=0):
    """W_t = W* + X_t: W* of rank 4 with eigenvalues SPIKES^2 (+ drift * t) of W*^T W* / N, and X_t an entry-wise
    Ornstein-Uhlenbeck process x -> (1 - a) x + s xi, started stationary and advanced ``every`` steps between
    checkpoints by its exact transition.  Returns (steps, matrices)."""
    rng = np.random.default_rng(seed)
    u = np.linalg.qr(rng.standard_normal((n, len(SPIKES))))[0]
    v = np.linalg.qr(rng.standard_normal((m, len(SPIKES))))[0]
    stationary = s**2 / (1 - (1 - a) ** 2)
    keep = (1 - a) ** every
    x = rng.standard_normal((n, m)) * np.sqrt(stationary)
    steps, matrices = [], []
    for i in range(checkpoints):
        t = i * every
        theta = np.sqrt(n * (np.square(SPIKES) + drift * t))
        matrices.append((u * theta) @ v.T + x)
        steps.append(t)
        x = keep * x + np.sqrt(stationary * (1 - keep**2)) * rng.standard_normal((n, m))
    return np.array(steps), matrices


def top4(w):
    return np.linalg.eigvalsh(w.T @ w / w.shape[0])[::-1][:4]


def expected_variance(n, s, a, drift=0.0, steps=None):
    """First order: delta sigma_i = u_i^T X v_i has the entries' variance, lambda_i = sigma_i^2 / N, so
    var(lambda_i) = 4 lambda_i var(x) / N with var(x) = s^2 / (1 - (1 - a)^2); averaged over the 4 spikes."""
    mean_lambda = np.square(SPIKES) + (drift * np.mean(steps) if drift else 0.0)
    return float(np.mean(4 * mean_lambda * s**2 / (1 - (1 - a) ** 2) / n))


@pytest.mark.parametrize("s", [0.05, 0.1])
def test_fluctuation_of_a_planted_dyson_process_equals_the_stationary_variance(s):
    steps, matrices = planted_run(300, 100, s, 0.3, 400, 10)
    result = fluctuation(steps, np.array([top4(w) for w in matrices]))
    assert result.variance == pytest.approx(expected_variance(300, s, 0.3), rel=0.15)
    assert abs(result.autocorrelation) < 0.15  # checkpoints 10 steps apart, correlation time 1/a ~ 3 steps


def test_fluctuation_is_linear_in_the_step_variance_and_ignores_a_linear_drift():
    """The temperature eta / B enters as the variance of one step's noise s^2."""
    variances = []
    for s2 in (0.0025, 0.005, 0.01):
        steps, matrices = planted_run(300, 100, np.sqrt(s2), 0.3, 300, 10, seed=1)
        variances.append(fluctuation(steps, np.array([top4(w) for w in matrices])).variance)
    slope, intercept = np.polyfit([0.0025, 0.005, 0.01], variances, 1)
    assert abs(intercept) < 0.05 * variances[-1]
    np.testing.assert_allclose(np.array(variances) / variances[0], [1, 2, 4], rtol=0.02)  # one seed: same draws, scaled
    steps, matrices = planted_run(300, 100, 0.1, 0.3, 300, 10, drift=2e-3, seed=2)
    drifting = fluctuation(steps, np.array([top4(w) for w in matrices])).variance
    assert drifting == pytest.approx(expected_variance(300, 0.1, 0.3, 2e-3, steps), rel=0.15)
    raw = np.var(np.array([top4(w) for w in matrices]), axis=0, ddof=1).mean()
    assert raw > 20 * drifting  # without the detrending the drift (lambda +6 over the run) would dominate


def _checkpoints(tmp_path, count=12):
    steps, matrices = planted_run(96, 48, 0.1, 0.3, count, 10, seed=3)
    paths = []
    for step, w in zip(steps, matrices):
        path = tmp_path / f"step_{step}.safetensors"
        save_file({"layers.0.weight": w.astype(np.float32), "layers.1.weight": (2 * w).astype(np.float32)}, str(path))
        paths.append(path)
    return paths


def test_track_temperature_reads_the_late_checkpoints(tmp_path, capsys):
    paths = _checkpoints(tmp_path)
    trajectory = track_checkpoints(paths)
    result = noise_temperature(trajectory, late=0.5, top=4)
    late = paths[6:]
    expected = fluctuation(
        [int(p.stem.split("_")[1]) for p in late],
        np.array([top4(load_file(str(p))["layers.0.weight"].astype(np.float64)) for p in late]),
    )
    row = result.layers[0]
    assert (row.layer, row.checkpoints, row.first_step, row.last_step, row.top) == ("layers.0.weight", 6, 60, 110, 4)
    assert row.variance == pytest.approx(expected.variance, rel=1e-6)
    assert result.layers[1].variance == pytest.approx(16 * row.variance, rel=1e-6)  # W -> 2W: lambda -> 4 lambda

    assert main(["track", *map(str, paths), "--temperature", "--top", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["trajectory"]) == 24 and out["temperature"]["layers"][0]["variance"] == pytest.approx(row.variance)
    assert main(["track", *map(str, paths), "--temperature", "--top", "4"]) == 0
    text = capsys.readouterr().out
    assert "SGD noise temperature" in text and "layers.1.weight" in text
    with pytest.raises(UsageError, match=f"at least {MIN_LATE_CHECKPOINTS} late checkpoints"):
        noise_temperature(track_checkpoints(paths[:5]), late=0.5)
    assert main(["track", *map(str, paths[:5]), "--temperature"]) == 2
    assert main(["track", *map(str, paths), "--temperature", "--late", "0"]) == 2
