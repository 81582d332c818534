"""The verdicts' error rates on matrices with a known answer, small enough to run on every commit.

The full table (300 x 300 to 4096 x 1024, 20 draws per cell) is ``benchmarks/calibrate_labels.py`` and is
quoted in README ("Verdicts and how often they are right"); this test runs 12 draws of each ensemble at
400 x 200 and holds the rates README states: pure noise of any entry law labelled random-like in at least
95% of draws and never bulk+spikes; planted spikes bulk+spikes; a power-law tail of alpha 2.5
heavy-tailed; spike strengths and overlaps never reported for noise; low-rank signals of 10 to 50
components bulk+spikes (rank r in the reason); isometries isometric; a smoothly decaying bulk never
over-trained.  Seeds are fixed, so the test fails only when a rule changes.
"""

import math
from collections import Counter

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from netspectra import analyze_array
from netspectra.rmt import ensembles

N, M, DRAWS = 400, 200, 12

NOISE = {
    "gaussian": ensembles.gaussian,
    "student-t 5": lambda n, m, rng: ensembles.student_t(n, m, 5.0, rng),
    "student-t 2.5": lambda n, m, rng: ensembles.student_t(n, m, 2.5, rng),
    "sparse 5%": lambda n, m, rng: ensembles.sparse(n, m, 0.05, rng),
}


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def _layers(generate) -> list:
    return [analyze_array(generate(N, M, np.random.default_rng(1000 + seed))) for seed in range(DRAWS)]


def test_pure_noise_is_random_like_and_has_no_spikes():
    phases: Counter[str] = Counter()
    for name, generate in NOISE.items():
        layers = _layers(generate)
        phases.update(layer.phase for layer in layers)
        assert all(math.isnan(layer.spike_strength_max) for layer in layers), name
        assert not any("over-trained" in layer.warnings for layer in layers), name
    total = sum(phases.values())
    assert phases["random-like"] >= 0.95 * total, phases
    assert phases["bulk+spikes"] == 0, phases


def test_planted_signals_are_found():
    spiked = _layers(lambda n, m, rng: ensembles.spiked(n, m, [4.0, 5.0, 6.0], rng))
    assert all(layer.phase == "bulk+spikes" for layer in spiked)
    assert all(layer.spike_strength_max == pytest.approx(6.0, rel=0.1) for layer in spiked)
    heavy = _layers(lambda n, m, rng: ensembles.power_law_tail(n, m, 2.5, rng))
    assert sum(layer.phase == "heavy-tailed" for layer in heavy) >= DRAWS - 1
    mixed = _layers(lambda n, m, rng: ensembles.mixed_noise(n, m, 0.9, rng))
    assert all(layer.phase in ("bulk-decay", "bleeding-out") for layer in mixed)


def test_many_spikes_and_isometries_have_their_own_reading():
    """Planted ranks 10, 20 and 50 (strengths spread over [2, 6] or all 4) read heavy-tailed in every draw and
    isometries random-like; a column covariance exp(-i/50) was over-trained in some draws."""
    for rank, x in ((10, np.geomspace(2.0, 6.0, 10)), (20, np.full(20, 4.0)), (50, np.geomspace(2.0, 6.0, 50))):
        layers = _layers(lambda n, m, rng, x=x: ensembles.spiked(n, m, x, rng))
        assert all(layer.phase == "bulk+spikes" and f"rank-{rank} signal" in layer.phase_reason for layer in layers), rank
    assert all(layer.phase == "isometric" for layer in _layers(ensembles.isometry))
    decaying = _layers(lambda n, m, rng: ensembles.decaying_covariance(n, m, 50.0, rng))
    assert all(layer.phase == "bulk-decay" and "over-trained" not in layer.warnings for layer in decaying)
