"""``netspectra rank`` (issue 18, part 3): Spearman's rho against SciPy's, and a planted family of models
whose heavy-tail ordering is known."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from netspectra.act.ranking import average_ranks, spearman
from netspectra.cli import main


def test_spearman_equals_scipys_with_and_without_ties():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for x, y in ((rng.normal(size=40), rng.normal(size=40)), (rng.integers(0, 5, 40), rng.integers(0, 4, 40))):
        assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    np.testing.assert_array_equal(average_ranks(np.array([3.0, 1.0, 3.0, 2.0])), [3.5, 1.0, 3.5, 2.0])
    assert np.isnan(spearman(np.ones(5), np.arange(5.0)))


@pytest.fixture()
def family(tmp_path):
    """Four models whose matrices have Student-t entries of 1.2 .. 3.6 degrees of freedom: a heavier entry
    tail gives a heavier ESD tail, a smaller alpha."""
    paths = []
    for i, dof in enumerate((1.2, 1.8, 2.4, 3.6)):
        rng = np.random.default_rng(i)
        path = tmp_path / f"m{i}.safetensors"
        save_file({f"layers.{j}.weight": rng.standard_t(dof, (400, 200)).astype(np.float32) for j in range(2)}, str(path))
        paths.append(path)
    return paths


def test_rank_orders_the_family_and_correlates_with_planted_accuracies(family, tmp_path, capsys):
    csv = tmp_path / "acc.csv"
    csv.write_text("model,accuracy\n" + "".join(f"{p},{0.9 - 0.1 * i}\n" for i, p in enumerate(family)))
    assert main(["rank", *map(str, family), "--metric", "alpha_mean", "--accuracy", str(csv), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [m["source"] for m in result["models"]] == [str(p) for p in family]  # heavier tail ranks first
    assert result["spearman_with_accuracy"]["alpha_mean"] == pytest.approx(1.0)


def test_rank_refuses_a_csv_without_a_models_accuracy(family, tmp_path, capsys):
    csv = tmp_path / "acc.csv"
    csv.write_text(f"model,accuracy\n{family[0]},0.9\n")
    assert main(["rank", str(family[0]), str(family[1]), "--accuracy", str(csv)]) == 2
    assert "no accuracy for" in capsys.readouterr().err
    csv.write_text("name,score\nx,1\n")
    assert main(["rank", str(family[0]), "--accuracy", str(csv)]) == 2
