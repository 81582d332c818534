"""Keep rules: parsing and the rank each one selects."""

from __future__ import annotations

import math

import numpy as np
import pytest

from netspectra.denoise import Method, planted_matrix
from netspectra.errors import UsageError
from netspectra.rmt.thresholds import gavish_donoho_threshold


@pytest.mark.parametrize(
    ("text", "kind", "value", "shown"),
    [
        ("mp-edge", "mp-edge", math.nan, "mp-edge"),
        ("gavish-donoho", "gavish-donoho", math.nan, "gavish-donoho"),
        ("bema", "bema", math.nan, "bema"),
        ("rank:8", "rank", 8, "rank:8"),
        ("energy:0.9", "energy", 0.9, "energy:0.9"),
        (" energy:1 ", "energy", 1.0, "energy:1"),
    ],
)
def test_parse(text, kind, value, shown):
    method = Method.parse(text)
    assert method.kind == kind
    assert (math.isnan(method.value) and math.isnan(value)) or method.value == value
    assert str(method) == shown


@pytest.mark.parametrize(
    "text",
    [
        "",
        "otsu",
        "rank",
        "rank:0",
        "rank:-2",
        "rank:2.5",
        "energy:0",
        "energy:1.5",
        "energy:x",
        "energy",
        "bema:3",
        "mp-edge:0.9",
    ],
)
def test_parse_rejects_bad_methods_with_a_usage_error(text):
    with pytest.raises(UsageError):
        Method.parse(text)


def test_rank_is_clipped_to_the_number_of_singular_values():
    s = np.array([5.0, 3.0, 1.0])
    assert Method.parse("rank:2").select(s, 10, 3).rank == 2
    assert Method.parse("rank:99").select(s, 10, 3).rank == 3


@pytest.mark.parametrize(("fraction", "rank"), [(0.5, 1), (0.64, 1), (0.65, 2), (0.9, 2), (0.93, 3), (1.0, 3)])
def test_energy_keeps_the_fewest_components_holding_the_fraction(fraction, rank):
    s = np.array([3.0, 2.0, 1.0])  # energies 9, 4, 1 of 14: cumulative 0.643, 0.929, 1
    selection = Method.parse(f"energy:{fraction}").select(s, 10, 3)
    assert selection.rank == rank and math.isnan(selection.tau)


def test_rmt_methods_report_their_threshold_and_noise_level():
    p = planted_matrix(400, 200, [3.0, 2.0], np.random.default_rng(0), sigma=0.5)
    s = np.linalg.svd(p.matrix, compute_uv=False)
    for text in ("mp-edge", "gavish-donoho", "bema"):
        selection = Method.parse(text).select(s, 400, 200)
        assert selection.rank == 2
        assert selection.sigma == pytest.approx(0.5, rel=0.03)
        assert s[2] < selection.tau < s[1]
    known = Method.parse("gavish-donoho").select(s, 400, 200, sigma=0.5)
    assert known.tau == gavish_donoho_threshold(s, 400, 200, sigma=0.5).tau and known.sigma == 0.5
    assert Method.parse("rank:1").select(s, 400, 200).sigma == pytest.approx(0.5, rel=0.03)
