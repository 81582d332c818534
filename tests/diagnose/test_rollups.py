"""The summary by role, by block and of the experts of each block (issue 26), and the run's cost."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from netspectra import ModelReport
from netspectra.diagnose.experts import EXPERT_OUTLIER_Z, MAD_TO_SIGMA, expert_spreads, robust_z
from netspectra.diagnose.row import LayerIdentity, LayerReport, OutcomeColumns, PlacementColumns, PowerLawColumns


def row(name: str, role: str, block: int, alpha: float, expert: int = -1, stack: str = "", status: str = "ok") -> LayerReport:
    warnings = ("under-trained",) if alpha > 6 else (("over-trained",) if alpha < 2 else ())
    return LayerReport(
        LayerIdentity(name, 0, "linear", 64, 32, 2.0, 1, 32),
        placement=PlacementColumns(role, stack, block, expert),
        power_law=PowerLawColumns(alpha=alpha),
        outcome=OutcomeColumns(status=status, warnings=warnings if status == "ok" else ("fit-failed: too few",)),
    )


def test_robust_z_known_answers():
    # median 3, |deviations| 1, 0, 0, 1, 6 -> MAD 1: z = deviation / 1.4826
    np.testing.assert_allclose(robust_z([2.0, 3.0, 3.0, 4.0, 9.0]), np.array([-1, 0, 0, 1, 6]) / MAD_TO_SIGMA)
    # more than half equal: MAD 0, the one that differs is infinitely far, the others 0
    assert robust_z([3.0, 3.0, 3.0, 5.0]).tolist() == [0.0, 0.0, 0.0, math.inf]
    assert MAD_TO_SIGMA == pytest.approx(1 / 0.6744897501960817, rel=1e-4)  # 1 / Phi^-1(3/4)


def test_an_expert_that_stands_out_from_its_siblings_is_named():
    """Block 0: 7 experts around alpha 3, expert 5 at 9 (z = 6 / (1.4826 x 0.1) = 40); block 1: no outlier;
    a group of 2 experts is described, never searched (no median to stand out from)."""
    alphas = [2.9, 3.0, 3.1, 3.0, 2.9, 9.0, 3.1, 3.0]
    rows = [row(f"l.0.experts.down[{e}]", "expert_down", 0, a, e) for e, a in enumerate(alphas)]
    rows += [row(f"l.1.experts.down[{e}]", "expert_down", 1, 3.0 + 0.1 * e, e) for e in range(8)]
    rows += [row(f"l.2.experts.down[{e}]", "expert_down", 2, a, e) for e, a in enumerate((3.0, 30.0))]
    rows += [row("l.0.mlp.gate", "router", 0, 4.0)]
    spreads = expert_spreads(rows)
    assert [(s.block, s.role, s.num_experts) for s in spreads] == [
        (0, "expert_down", 8),
        (1, "expert_down", 8),
        (2, "expert_down", 2),
    ]
    first = spreads[0]
    assert (first.alpha_median, first.alpha_min, first.alpha_max) == (3.0, 2.9, 9.0)
    assert first.alpha_mad == pytest.approx(0.1)
    (outlier,) = first.outliers
    assert (outlier.expert, outlier.alpha, outlier.name) == (5, 9.0, "l.0.experts.down[5]")
    assert outlier.robust_z == pytest.approx(6.0 / (MAD_TO_SIGMA * 0.1)) and outlier.robust_z > EXPERT_OUTLIER_Z
    assert spreads[1].outliers == () and spreads[2].outliers == ()


def test_summary_by_role_block_and_experts_in_json():
    rows = (
        row("embed", "embedding", -1, 4.0),
        *(row(f"l.{b}.q", "attn_q", b, a) for b, a in ((0, 3.0), (1, 7.0))),
        *(row(f"l.{b}.down", "mlp_down", b, a) for b, a in ((0, 1.5), (1, 5.0))),
        row("l.1.experts.up[0]", "expert_up", 1, math.nan, 0, status="fit-failed"),
        *(row(f"l.1.experts.up[{e}]", "expert_up", 1, 3.0, e) for e in range(1, 4)),
        row("l.1.experts.up[4]", "expert_up", 1, 8.0, 4),
        row("head", "lm_head", -1, 5.0),
    )
    report = ModelReport(source="m", layers=rows)
    summary = report.summary
    assert [g.role for g in summary.by_role] == ["embedding", "attn_q", "mlp_down", "expert_up", "lm_head"]
    q = summary.by_role[1].stats
    assert (q.num_layers, q.num_fitted, q.alpha_mean, q.alpha_median, q.num_under_trained, q.num_over_trained) == (
        2,
        2,
        5.0,
        5.0,
        1,
        0,
    )
    up = summary.by_role[3].stats
    assert (up.num_layers, up.num_fitted, up.alpha_min, up.alpha_max) == (5, 4, 3.0, 8.0)
    assert [(g.stack, g.block, g.stats.num_layers) for g in summary.by_block] == [("", 0, 2), ("", 1, 7)]
    assert summary.by_block[0].stats.num_over_trained == 1
    (experts,) = summary.experts
    assert (experts.num_experts, experts.num_fitted, [o.expert for o in experts.outliers]) == (5, 4, [4])
    assert summary.num_expert_outliers == 1
    document = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    block = document["summary"]["by_block"][1]
    assert block == {
        "stack": "",
        "block": 1,
        "num_layers": 7,
        "num_fitted": 6,
        "alpha_mean": pytest.approx(np.mean([7.0, 5.0, 3.0, 3.0, 3.0, 8.0])),
        "alpha_median": 4.0,
        "alpha_min": 3.0,
        "alpha_max": 8.0,
        "num_under_trained": 2,
        "num_over_trained": 0,
    }
    assert document["summary"]["experts"][0]["outliers"][0]["robust_z"] is None  # MAD 0: infinitely far, None in JSON
    assert document["summary"]["wall_seconds"] is None and document["summary"]["num_expert_outliers"] == 1
    assert {"by_role", "by_block", "experts"}.isdisjoint(summary.scalars())


def test_analyze_measures_its_wall_time_and_peak_memory(tmp_path):
    """The peak is getrusage's ru_maxrss, which Linux keeps as VmHWM in /proc/self/status."""
    from safetensors.numpy import save_file

    from netspectra import analyze

    save_file(
        {"model.layers.0.mlp.up_proj.weight": np.random.default_rng(0).standard_normal((80, 40)).astype(np.float32)},
        str(tmp_path / "m.safetensors"),
    )
    report = analyze(tmp_path / "m.safetensors")
    summary = report.summary
    assert summary.wall_seconds == report.cost.wall_seconds and 0 < summary.wall_seconds < math.inf
    assert summary.peak_rss_mib == report.cost.peak_rss_bytes / 2**20
    try:
        with open("/proc/self/status") as status:
            high_water = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
    except OSError:
        pytest.skip("no /proc/self/status")
    assert report.cost.peak_rss_bytes >= high_water * 0.99  # the high-water mark only grows; children may be larger
    assert ModelReport(source="m", layers=report.layers).summary.wall_seconds != summary.wall_seconds  # NaN: not measured
