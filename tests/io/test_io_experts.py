"""Mixture-of-experts weights (issue 26): a 3-D expert tensor is one matrix per expert, not a conv kernel.

The case of the issue: ``model.layers.0.mlp.experts.gate_up_proj`` (8, 256, 512), GPT-OSS's layout, was read
as a conv1d kernel of 512 "matrices" 256 x 8.  Checked here: one row per expert (and per gate/up half where
config.json says the layout), each expert's matrices equal to what transformers' own expert modules compute
with (their forward pass, for Mixtral's, GPT-OSS's and Llama 4's layouts), the layout table against the
flags transformers declares, GGUF's ``ffn_*_exps`` read expert by expert, and live modules.
"""

from __future__ import annotations

import importlib
import inspect
import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from gguf_files import write_gguf_file
from netspectra.io import iter_weight_matrices
from netspectra.io.experts import FUSED_LAYOUTS, NOTE_FUSED_UNSPLIT
from netspectra.pipeline import analyze

E, H, TWO_I = 8, 256, 512
NAME = "model.layers.0.mlp.experts.gate_up_proj"


@pytest.fixture(scope="module")
def gpt_oss_experts(tmp_path_factory):
    """A GPT-OSS-style block: fused gate_up (E, H, 2I), down (E, I, H), their 2-D biases, a router."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("moe")
    tensors = {
        NAME: (rng.standard_normal((E, H, TWO_I)) / 16).astype(np.float32),
        "model.layers.0.mlp.experts.gate_up_proj_bias": np.zeros((E, TWO_I), np.float32),
        "model.layers.0.mlp.experts.down_proj": (rng.standard_normal((E, TWO_I // 2, H)) / 16).astype(np.float32),
        "model.layers.0.mlp.experts.down_proj_bias": np.zeros((E, H), np.float32),
        "model.layers.0.mlp.router.weight": rng.standard_normal((E, H)).astype(np.float32),
    }
    bare = root / "bare.safetensors"
    save_file(tensors, str(bare))
    folder = root / "gpt-oss"
    folder.mkdir()
    save_file(tensors, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt_oss"}))
    return tensors, bare, folder


def test_the_issue_case_is_eight_expert_matrices_not_a_conv_kernel(gpt_oss_experts):
    """Without a config the fused layout is unknown: 8 matrices 512 x 256, one per expert, each noted."""
    tensors, bare, _ = gpt_oss_experts
    weights = [w for w in iter_weight_matrices(bare) if w.name.startswith(NAME + "[")]
    assert [w.name for w in weights] == [f"{NAME}[{e}]" for e in range(E)]
    assert {(w.kind, w.matrix_shape, w.num_matrices) for w in weights} == {("linear", (TWO_I, H), 1)}
    assert [(w.placement.role, w.placement.block, w.placement.expert) for w in weights] == [
        ("expert_gate_up", 0, e) for e in range(E)
    ]
    assert all(NOTE_FUSED_UNSPLIT in w.notes for w in weights)
    np.testing.assert_array_equal(weights[5].load()[0], tensors[NAME][5].T)


def test_gpt_oss_layout_splits_gate_and_up_and_skips_the_expert_biases(gpt_oss_experts):
    tensors, _, folder = gpt_oss_experts
    skipped: dict[str, str] = {}
    weights = list(iter_weight_matrices(folder, on_skip=skipped.__setitem__))
    assert skipped["model.layers.0.mlp.experts.gate_up_proj_bias"] == "bias or mask buffer"
    assert [(w.name, w.placement.role) for w in weights[:2]] == [("model.layers.0.mlp.router.weight", "router")] + [
        (f"{NAME}[0,gate]", "expert_gate")
    ]
    fused = [w for w in weights if w.name.startswith(NAME + "[")]
    assert len(fused) == 2 * E and all(w.matrix_shape == (H, TWO_I // 2) and not w.notes for w in fused)
    gates = {w.placement.expert: w for w in fused if w.placement.role == "expert_gate"}
    ups = {w.placement.expert: w for w in fused if w.placement.role == "expert_up"}
    np.testing.assert_array_equal(gates[3].load()[0], tensors[NAME][3][:, 0::2])  # H x I: already N >= M
    np.testing.assert_array_equal(ups[3].load()[0], tensors[NAME][3][:, 1::2])
    downs = [w for w in weights if w.placement.role == "expert_down"]
    assert [w.placement.expert for w in downs] == list(range(E)) and downs[0].name.endswith("down_proj[0]")
    # model order inside the block: router, the gates of the experts, their ups, their downs
    assert [w.placement.role for w in weights] == ["router"] + ["expert_gate"] * E + ["expert_up"] * E + ["expert_down"] * E


def test_analysis_gives_one_row_per_expert_and_their_spread(gpt_oss_experts):
    _, _, folder = gpt_oss_experts
    report = analyze(folder, include="experts")
    rows = report.to_frame()
    assert len(rows) == 3 * E and set(rows["kind"]) == {"linear"}
    assert sorted(rows["expert"]) == sorted(list(range(E)) * 3)
    spreads = {group.role: group for group in report.summary.experts}
    assert set(spreads) == {"expert_gate", "expert_up", "expert_down"}
    assert all(group.num_experts == E and group.block == 0 for group in spreads.values())
    assert report.to_dict()["summary"]["experts"][0]["num_experts"] == E


def test_compress_copies_expert_tensors_saying_why(gpt_oss_experts, tmp_path):
    from netspectra.denoise.model import compress_model

    _, bare, _ = gpt_oss_experts
    report = compress_model(bare, tmp_path / "out.safetensors", method="gavish-donoho")
    reasons = {t.name: t.reason for t in report.copied}
    assert reasons[NAME] == reasons["model.layers.0.mlp.experts.down_proj"] == "3-D expert tensor"


def test_per_expert_tensors_router_and_shared_experts(tmp_path):
    """Qwen2-MoE / DeepSeek per-expert 2-D tensors: the index from the name; router and shared expert recognised."""
    rng = np.random.default_rng(1)
    tensors = {
        f"model.layers.2.mlp.experts.{e}.{p}.weight": rng.standard_normal((16, 8))
        for e in range(3)
        for p in ("gate_proj", "down_proj")
    }
    tensors["model.layers.2.mlp.gate.weight"] = rng.standard_normal((3, 8))
    tensors["model.layers.2.mlp.shared_expert.up_proj.weight"] = rng.standard_normal((16, 8))
    save_file({k: v.astype(np.float32) for k, v in tensors.items()}, str(tmp_path / "m.safetensors"))
    rows = [(w.placement.role, w.placement.expert) for w in iter_weight_matrices(tmp_path / "m.safetensors")]
    assert rows == [
        ("router", -1),
        ("shared_expert_up", -1),
        ("expert_gate", 0),
        ("expert_gate", 1),
        ("expert_gate", 2),
        ("expert_down", 0),
        ("expert_down", 1),
        ("expert_down", 2),
    ]


# ---------------------------------------------------------------------------------------------- transformers


def _transformers():
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    if not hasattr(transformers, "GptOssConfig"):
        pytest.skip(f"transformers {transformers.__version__} has no fused experts")
    return transformers, torch


def _experts_class(model_type: str) -> type:
    """The class of transformers' fused experts of a model type (the one with a ``gate_up_proj``)."""
    package = "llama4" if model_type.startswith("llama4") else model_type
    module = importlib.import_module(f"transformers.models.{package}.modeling_{package}")
    classes = [c for n, c in vars(module).items() if n.endswith("Experts") and isinstance(c, type)]
    return next(c for c in classes if "self.gate_up_proj = nn.Parameter" in inspect.getsource(c.__init__))


def _experts_of(module: object) -> dict[str, dict[int, np.ndarray]]:
    """role -> expert -> matrix (as netspectra loads it: N x M, N >= M) of a live experts module."""
    out: dict[str, dict[int, np.ndarray]] = {}
    for w in iter_weight_matrices(module):
        assert w.kind == "linear" and not w.notes, w
        out.setdefault(w.placement.role, {})[w.placement.expert] = w.load()[0]
    return out


@pytest.mark.parametrize("family", ["mixtral", "qwen3_moe", "deepseek_v3", "gpt_oss", "llama4_text"])
def test_expert_matrices_compute_what_transformers_experts_compute(family):
    """For each expert e: down_e(act(gate_e x) * up_e x) from netspectra's matrices equals the module's own
    forward pass routing every token to e (GPT-OSS: its clamped SwiGLU, (up + 1) glu(gate))."""
    transformers, torch = _transformers()
    hidden, inter, experts = 8, 24, 4  # inter > hidden: every matrix comes out as out x in (I x H) or its transpose
    config = transformers.AutoConfig.for_model(
        family,
        hidden_size=hidden,
        intermediate_size=inter,
        moe_intermediate_size=inter,
        num_local_experts=experts,
        n_routed_experts=experts,
        num_experts=experts,
    )
    torch.manual_seed(0)
    block = _experts_class(family)(config)
    with torch.no_grad():
        for parameter in block.parameters():
            parameter.copy_(torch.randn_like(parameter) / 3 if parameter.dim() == 3 else torch.zeros_like(parameter))
    holder = torch.nn.Module()  # a model's module named experts, with the model's config (its model_type)
    holder.experts, holder.config = block, config
    mats = _experts_of(holder)
    assert set(mats) == {"expert_gate", "expert_up", "expert_down"} and set(mats["expert_gate"]) == set(range(experts))
    x = torch.randn(5, hidden)
    for e in range(experts):
        gate, up, down = (torch.from_numpy(mats[r][e]).float() for r in ("expert_gate", "expert_up", "expert_down"))
        assert gate.shape == up.shape == down.shape == (inter, hidden)
        g, u = x @ gate.T, x @ up.T
        if family == "gpt_oss":
            g, u = g.clamp(max=block.limit), u.clamp(-block.limit, block.limit)
            h = (u + 1) * g * torch.sigmoid(g * block.alpha)
        else:
            h = block.act_fn(g) * u
        expected = h @ down  # down is (in, out) = I x H, its transpose the Linear's H x I
        with torch.no_grad():
            if family == "llama4_text":
                tokens = torch.zeros(experts, 5, hidden)
                tokens[e] = x
                got = block(tokens.reshape(-1, hidden)).reshape(experts, 5, hidden)[e]
            else:
                got = block(x, torch.full((5, 1), e), torch.ones(5, 1))
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_layout_table_is_the_one_transformers_declares():
    """Each model_type of FUSED_LAYOUTS: its experts class's ``is_transposed`` / ``is_concatenated`` (set by
    ``use_experts_implementation``) and the shape of its gate_up_proj, built on the meta device."""
    transformers, torch = _transformers()
    for model_type, layout in FUSED_LAYOUTS.items():
        config = transformers.AutoConfig.for_model(model_type)
        config = getattr(config, "text_config", None) or config
        with torch.device("meta"):
            block = _experts_class(model_type)(config)
        transposed = block.gate_up_proj.shape[1] == config.hidden_size
        assert transposed == layout.transposed == getattr(block, "is_transposed", transposed), model_type
        assert (not getattr(block, "is_concatenated", True)) == layout.interleaved, model_type


# ---------------------------------------------------------------------------------------------- GGUF

gguf = pytest.importorskip("gguf")


@pytest.mark.parametrize("qtype", ["F32", "Q8_0"])
def test_gguf_expert_tensors_are_read_expert_by_expert(tmp_path, qtype):
    """llama.cpp's ffn_gate_exps (E, I, H) in a qwen3moe file: named by the reader, one row per expert, each
    equal to the package's dequantization of the whole tensor sliced (and to the original in F32)."""
    rng = np.random.default_rng(2)
    experts, inter, hidden = 4, 32, 64
    gate = (rng.standard_normal((experts, inter, hidden)) / 8).astype(np.float32)
    router = rng.standard_normal((experts, hidden)).astype(np.float32)
    path = tmp_path / "moe.gguf"
    tensors = {"blk.0.ffn_gate_exps.weight": gate, "blk.0.ffn_gate_inp.weight": router}
    types = {"blk.0.ffn_gate_exps.weight": qtype} if qtype != "F32" else {}
    write_gguf_file(path, tensors, arch="qwen3moe", types=types)
    weights = list(iter_weight_matrices(path))
    assert [(w.name, w.placement.role, w.placement.expert, w.dtype) for w in weights] == [
        # transformers' qwen3moe names the router mlp.gate; a gate without its up keeps its file name
        ("model.layers.0.mlp.gate.weight", "router", -1, "F32"),
        *((f"blk.0.ffn_gate_exps.weight[{e}]", "expert_gate", e, qtype) for e in range(experts)),
    ]
    q = gguf.GGMLQuantizationType[qtype]
    whole = gguf.quants.dequantize(gguf.GGUFReader(str(path)).tensors[0].data, q).reshape(gate.shape)
    for e, w in enumerate(weights[1:]):  # I x H = 32 x 64, oriented N >= M: its transpose
        np.testing.assert_array_equal(w.load()[0], whole[e].T)
    if qtype == "F32":
        np.testing.assert_array_equal(weights[2].load()[0], gate[1].T)
