"""PEFT LoRA adapters (issue 16), written by PEFT's own ``get_peft_model`` + ``save_pretrained``.

The reference is PEFT itself: the merged matrices W + dW must equal ``merge_and_unload()``'s, and the
updates alone must equal the merged minus the base, for LoRA, rsLoRA and per-module alpha/rank
patterns, from safetensors and from a pickled ``adapter_model.bin``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from netspectra.cli import main
from netspectra.errors import SourceError
from netspectra.io import open_source
from netspectra.io.sources import open_adapter

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.q_proj = torch.nn.Linear(64, 48)
        self.v_proj = torch.nn.Linear(64, 48)
        self.out = torch.nn.Linear(48, 10)

    def forward(self, x):  # noqa: ANN001, ANN201 - torch's signature
        return self.out(self.q_proj(x) + self.v_proj(x))


def _state(module: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def _adapter(tmp_path, safe: bool = True, **lora) -> tuple:
    """(base file, adapter folder, merged state by PEFT, base state)."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    base = Net()
    base_state = _state(base)
    save_file({k: v.contiguous() for k, v in base.state_dict().items()}, str(tmp_path / "base.safetensors"))
    config = peft.LoraConfig(target_modules=["q_proj", "v_proj"], init_lora_weights=False, **lora)
    model = peft.get_peft_model(base, config)
    model.save_pretrained(str(tmp_path / "adapter"), safe_serialization=safe)
    merged = _state(model.merge_and_unload())
    return tmp_path / "base.safetensors", tmp_path / "adapter", merged, base_state


CONFIGS = {
    "lora": {"r": 4, "lora_alpha": 16},
    "rslora": {"r": 4, "lora_alpha": 16, "use_rslora": True},
    "patterns": {"r": 4, "lora_alpha": 16, "rank_pattern": {"v_proj": 2}, "alpha_pattern": {"v_proj": 5}},
}


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_merged_matrices_equal_peft_merge_and_unload(tmp_path, case):
    base, adapter, merged, _ = _adapter(tmp_path, **CONFIGS[case])
    records = {r.name: r for r in open_adapter(adapter, base).tensors()}
    assert set(records) == set(merged)
    for name in ("q_proj.weight", "v_proj.weight"):
        np.testing.assert_allclose(records[name].load(), merged[name], rtol=0, atol=2e-6)
    np.testing.assert_array_equal(records["out.weight"].load(), merged["out.weight"])  # not adapted


@pytest.mark.parametrize("safe", [True, False], ids=["safetensors", "bin"])
def test_updates_alone_are_merged_minus_base(tmp_path, safe):
    _, adapter, merged, base_state = _adapter(tmp_path, safe=safe, r=4, lora_alpha=16)
    source = open_source(adapter)
    assert source.format == "peft-lora"
    records = {r.name: r for r in source.tensors()}
    assert set(records) == {"q_proj.weight", "v_proj.weight"}
    for name, record in records.items():
        update = record.load()
        assert record.shape == (48, 64) and np.linalg.matrix_rank(update) == 4
        np.testing.assert_allclose(update, merged[name] - base_state[name], rtol=0, atol=2e-6)


def test_cli_analyzes_updates_merged_and_compares_with_the_base(tmp_path, capsys):
    base, adapter, _, _ = _adapter(tmp_path, r=4, lora_alpha=16)
    assert main(["analyze", str(adapter), "-o", str(tmp_path / "dw.csv"), "--quiet"]) == 0
    assert main(["analyze", str(adapter), "--base", str(base), "-o", str(tmp_path / "w.csv"), "--quiet"]) == 0
    assert "q_proj.weight" in (tmp_path / "dw.csv").read_text() and "out.weight" in (tmp_path / "w.csv").read_text()
    capsys.readouterr()
    assert main(["compare", str(base), str(adapter)]) == 0
    assert "3 layers matched (3 by name, 0 by shape)" in capsys.readouterr().out


def test_adapter_on_the_wrong_base_and_broken_adapters_are_refused(tmp_path):
    base, adapter, _, _ = _adapter(tmp_path, r=4, lora_alpha=16)
    from safetensors.numpy import save_file

    save_file({"other.weight": np.ones((4, 4), np.float32)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(SourceError, match="not this adapter's base"):
        list(open_adapter(adapter, tmp_path / "other.safetensors").tensors())
    config = json.loads((adapter / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(json.dumps({**config, "peft_type": "IA3"}))
    with pytest.raises(SourceError, match="not a LoRA adapter"):
        open_source(adapter)
    with pytest.raises(SourceError, match="not a PEFT adapter folder"):
        open_adapter(tmp_path / "other.safetensors", base)


def test_updates_formed_in_row_blocks_equal_peft(tmp_path, monkeypatch):
    """dW is formed a block of rows at a time (issue 25: planned against memory, float32 out): blocks of 5
    of the 48 rows give PEFT's matrices, alone and merged on the base."""
    from netspectra.io import lora_update

    base, adapter, merged, base_state = _adapter(tmp_path, r=4, lora_alpha=16)
    monkeypatch.setattr(lora_update, "BLOCK_ENTRIES", 5 * 64)
    updates = {r.name: r for r in open_source(adapter).tensors()}
    on_base = {r.name: r for r in open_adapter(adapter, base).tensors()}
    for name in ("q_proj.weight", "v_proj.weight"):
        np.testing.assert_allclose(updates[name].load(), merged[name] - base_state[name], rtol=0, atol=2e-6)
        np.testing.assert_allclose(on_base[name].load(), merged[name], rtol=0, atol=2e-6)
