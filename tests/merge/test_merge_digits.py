"""Evidence on trained models: merging two digit-subset fine-tunes of a weak digits MLP (merge_testbed.py).

What holds on this testbed (seed 0, measured, see docs/merge.md for the table and the multi-seed view):
each fine-tune is better than the base on its own digits and worse on the others; every task-vector
merge (task arithmetic, TIES, STAR, TSV, spectral-auto) with the default parameters beats the base and
both fine-tunes on all ten digits, and keeps both tasks far better than either fine-tune does.
"""

from __future__ import annotations

import numpy as np
import pytest
from merge_testbed import write_model

from netspectra.io import open_source
from netspectra.merge import check_compatibility, merge_models

TASK_VECTOR_METHODS = ("task-arithmetic", "ties", "star", "tsv", "spectral-auto")


def read_model(path):
    with open_source(path) as src:
        return {r.name: r.load() for r in src.tensors()}


@pytest.fixture(scope="module")
def merged(digits, tmp_path_factory):
    """Per-task accuracy of every merge with default parameters, and the merge results."""
    tasks, root = digits
    out = tmp_path_factory.mktemp("merged")
    acc, results = {}, {}
    for method in ("linear", *TASK_VECTOR_METHODS):
        models = [str(root / t) for t in tasks.finetuned]
        config = {"base_model": str(root / "base"), "models": models, "method": method}
        results[method] = merge_models(config, out / method)
        acc[method] = tasks.accuracies(read_model(out / method))
    return acc, results


def test_the_fine_tunes_specialise(digits):
    tasks, _ = digits
    base = tasks.accuracies(tasks.base)
    for task, other in (("0-4", "5-9"), ("5-9", "0-4")):
        tuned = tasks.accuracies(tasks.finetuned[task])
        assert tuned[task] > base[task] + 0.1, (task, tuned, base)
        assert tuned[other] < base[other] - 0.1, (task, tuned, base)  # forgetting: merging has work to do


def test_task_vector_merges_beat_the_base_and_both_fine_tunes_on_all_digits(digits, merged):
    tasks, _ = digits
    acc, _ = merged
    base = tasks.accuracies(tasks.base)["union"]
    best_tuned = max(tasks.accuracies(w)["union"] for w in tasks.finetuned.values())
    for method in TASK_VECTOR_METHODS:
        assert acc[method]["union"] > base + 0.05, (method, acc[method], base)
        assert acc[method]["union"] > best_tuned + 0.05, (method, acc[method], best_tuned)


def test_merges_keep_both_tasks(digits, merged):
    """The worse task of a merge is far better than the worse task of either fine-tune."""
    tasks, _ = digits
    acc, _ = merged
    tuned_worst = max(min(tasks.accuracies(w)[t] for t in ("0-4", "5-9")) for w in tasks.finetuned.values())
    for method in TASK_VECTOR_METHODS:
        assert min(acc[method]["0-4"], acc[method]["5-9"]) > tuned_worst + 0.2, (method, acc[method], tuned_worst)


def test_spectral_auto_logs_its_choices_and_here_beats_the_plain_average(merged):
    acc, results = merged
    for layer in results["spectral-auto"].layers:
        if len(layer.shape) == 2:
            assert layer.verdict in ("compatible", "caution", "incompatible")
            assert layer.reason.startswith("spectral-auto: ") and layer.rule in ("average", "star", "tsv")
            assert np.isfinite(layer.interference)
        else:
            assert (layer.rule, layer.reason, layer.verdict) == ("average", "not 2-D", "")
    assert acc["spectral-auto"]["union"] > acc["linear"]["union"]


def test_merge_check_flags_an_unrelated_model(digits, tmp_path):
    tasks, root = digits
    rng = np.random.default_rng(7)
    fan_in = {name: tasks.base[name.replace("bias", "weight")].shape[1] for name in tasks.base}
    stranger = {  # another initialisation at torch's default scale U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        name: (rng.uniform(-1, 1, w.shape) / np.sqrt(fan_in[name])).astype(np.float32) for name, w in tasks.base.items()
    }
    write_model(tmp_path / "stranger", stranger)
    related = check_compatibility([root / "0-4", root / "5-9"], base=root / "base")
    assert related.verdict != "incompatible"
    assert all(layer.rel_distance < 0.5 for layer in related.layers)
    unrelated = check_compatibility([root / "0-4", tmp_path / "stranger"], base=root / "base")
    assert unrelated.verdict == "incompatible"
    assert all(layer.verdict == "incompatible" and "rel_distance" in layer.reasons for layer in unrelated.layers)
