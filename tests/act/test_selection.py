"""``netspectra select-layers`` (issue 18, part 2): SNR above an RMT threshold, on planted signals."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import yaml
from safetensors.numpy import save_file

from netspectra.act.selection import layer_snr, module_type
from netspectra.cli import main


def _planted(rng, n: int, m: int, strengths: tuple[float, ...]) -> np.ndarray:
    """Gaussian noise (entry variance 1/n) plus rank-k signals sum_i theta_i u_i v_i^T."""
    w = rng.standard_normal((n, m)) / np.sqrt(n)
    for theta in strengths:
        u, v = rng.standard_normal(n), rng.standard_normal(m)
        w += theta * np.outer(u / np.linalg.norm(u), v / np.linalg.norm(v))
    return w


def test_snr_is_zero_for_noise_and_grows_with_the_planted_signal():
    rng = np.random.default_rng(0)
    n, m = 600, 300
    values = []
    for strengths in ((), (3.0,), (3.0, 4.0, 5.0), (6.0, 8.0, 10.0)):
        w = _planted(rng, n, m, strengths)
        evals = np.linalg.eigvalsh(w.T @ w / n)
        snr, tau, count = layer_snr(evals, n, m, "mp-edge")
        assert count == len(strengths)  # every planted spike (above BBP) and no noise component
        s = np.sqrt(evals * n)
        assert snr == pytest.approx(s[s > tau].sum() / s[s <= tau].sum()) if count else snr == 0.0
        values.append(snr)
    assert values == sorted(values) and values[0] == 0.0
    # Gavish-Donoho keeps fewer, only the components worth keeping: never more than the detection edge
    w = _planted(rng, n, m, (1.0, 3.0))
    evals = np.linalg.eigvalsh(w.T @ w / n)
    assert layer_snr(evals, n, m, "gavish-donoho")[2] <= layer_snr(evals, n, m, "mp-edge")[2]


def test_module_type_drops_block_numbers():
    assert module_type("model.layers.12.self_attn.q_proj.weight") == "model.layers.*.self_attn.q_proj.weight"
    assert module_type("lm_head.weight") == "lm_head.weight"


def test_select_layers_picks_the_planted_blocks_per_type(tmp_path, capsys):
    rng = np.random.default_rng(1)
    strengths = {0: (), 1: (4.0, 6.0), 2: (3.0,), 3: (8.0, 9.0, 10.0)}  # block -> planted spikes
    tensors = {}
    for block, planted in strengths.items():
        tensors[f"model.layers.{block}.mlp.up_proj.weight"] = _planted(rng, 400, 200, planted).astype(np.float32)
        tensors[f"model.layers.{block}.self_attn.q_proj.weight"] = _planted(rng, 200, 200, planted[::-1]).astype(np.float32)
    path = tmp_path / "m.safetensors"
    save_file(tensors, str(path))
    out = tmp_path / "sel.yaml"
    assert main(["select-layers", str(path), "--top", "0.5", "-o", str(out)]) == 0
    plan = yaml.safe_load(out.read_text())
    assert sorted(plan["target_modules"]) == sorted(
        f"model.layers.{b}.{t}" for b in (1, 3) for t in ("mlp.up_proj", "self_attn.q_proj")
    )
    assert all(re.fullmatch(p, f"{m}.weight") for p, m in zip(plan["unfrozen_parameters"], plan["target_modules"]))
    capsys.readouterr()
    assert main(["select-layers", str(path), "--top", "1.0", "--json"]) == 0
    chosen = json.loads(capsys.readouterr().out)["target_modules"]
    assert not any(".layers.0." in name for name in chosen)  # pure noise is never selected
