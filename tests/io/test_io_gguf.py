"""GGUF files (issue 16), written by the gguf package's own GGUFWriter from a tiny Llama-named checkpoint.

Checked: names come back in the Hugging Face scheme, shapes in PyTorch order, values equal to the
package's own dequantization (and to the original for F32), the analysis of an F32 GGUF equal to that
of the safetensors checkpoint it came from, compare lining the two up by name, and broken files
refused in one line.
"""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import save_file

from gguf_files import write_gguf_file
from netspectra.cli import main
from netspectra.errors import SourceError, UsageError
from netspectra.io import iter_weight_matrices, open_source
from netspectra.pipeline import analyze

gguf = pytest.importorskip("gguf")

HIDDEN, FFN, VOCAB, BLOCKS = 64, 128, 96, 2


def tiny_llama(seed: int = 0) -> dict[str, np.ndarray]:
    """A Llama state dict (Hugging Face names, PyTorch shapes out x in) with a heavy-tailed touch."""
    rng = np.random.default_rng(seed)
    state = {
        "model.embed_tokens.weight": rng.standard_normal((VOCAB, HIDDEN)),
        "model.norm.weight": np.ones(HIDDEN),
        "lm_head.weight": rng.standard_normal((VOCAB, HIDDEN)),
    }
    for b in range(BLOCKS):
        p = f"model.layers.{b}."
        for proj in ("q", "k", "v", "o"):
            state[f"{p}self_attn.{proj}_proj.weight"] = rng.standard_t(3, (HIDDEN, HIDDEN))
        state[f"{p}mlp.gate_proj.weight"] = rng.standard_normal((FFN, HIDDEN))
        state[f"{p}mlp.up_proj.weight"] = rng.standard_normal((FFN, HIDDEN))
        state[f"{p}mlp.down_proj.weight"] = rng.standard_normal((HIDDEN, FFN))
        state[f"{p}input_layernorm.weight"] = np.ones(HIDDEN)
    return {k: (v / np.sqrt(v.shape[-1])).astype(np.float32) for k, v in state.items()}


HEADS, KV_HEADS = 8, 4


def llama_cpp_permute(weight: np.ndarray, heads: int) -> np.ndarray:
    """convert_hf_to_gguf.py's LlamaModel.permute: the rotary row order of Q and K in a GGUF file."""
    return weight.reshape(heads, 2, weight.shape[0] // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def write_gguf(path, state: dict[str, np.ndarray], qtype: str = "F32", permuted: bool = False) -> None:
    """Convert names with the package's table and write with its writer (2-D tensors in ``qtype``);
    ``permuted``: also as llama.cpp's converter does, head counts in the metadata and Q/K permuted."""
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, BLOCKS)
    tensors: dict[str, np.ndarray] = {}
    types: dict[str, str] = {}
    for hf, value in state.items():
        name = names.get_name(hf, try_suffixes=(".weight", ".bias"))
        if permuted and hf.endswith(("q_proj.weight", "k_proj.weight")):
            value = llama_cpp_permute(value, HEADS if "q_proj" in hf else KV_HEADS)
        if value.ndim == 2 and qtype not in ("F32", "F16"):
            types[name] = qtype
        tensors[name] = value.astype(np.float16) if qtype == "F16" and value.ndim == 2 else value

    def head_counts(writer):
        writer.add_head_count(HEADS)
        writer.add_head_count_kv(KV_HEADS)

    write_gguf_file(path, tensors, blocks=BLOCKS, types=types, metadata=head_counts if permuted else None)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("gguf")
    state = tiny_llama()
    (root / "hf").mkdir()
    save_file(state, str(root / "hf" / "model.safetensors"))
    for qtype in ("F32", "F16", "Q8_0", "Q4_0"):
        write_gguf(root / f"model-{qtype}.gguf", state, qtype)
    write_gguf(root / "converted.gguf", state, "F32", permuted=True)
    write_gguf(root / "converted-Q4_0.gguf", state, "Q4_0", permuted=True)
    return root, state


def test_names_shapes_and_dtypes_come_back_in_the_hugging_face_scheme(checkpoint):
    root, state = checkpoint
    source = open_source(root / "model-Q8_0.gguf")
    records = {r.name: r for r in source.tensors()}
    assert set(records) == set(state)
    for name, value in state.items():
        assert records[name].shape == value.shape, name
    assert records["model.layers.0.self_attn.q_proj.weight"].dtype == "Q8_0"
    assert records["model.norm.weight"].dtype == "F32"
    assert source.format == "gguf"


@pytest.mark.parametrize("qtype", ["F32", "F16", "Q8_0", "Q4_0"])
def test_values_are_the_packages_own_dequantization(checkpoint, qtype):
    root, state = checkpoint
    path = root / f"model-{qtype}.gguf"
    reader = gguf.GGUFReader(str(path))
    own = {t.name: gguf.quants.dequantize(t.data, t.tensor_type) for t in reader.tensors}
    records = {r.name: r for r in open_source(path).tensors()}
    up = records["model.layers.1.mlp.up_proj.weight"].load()
    np.testing.assert_array_equal(up, own["blk.1.ffn_up.weight"].reshape(FFN, HIDDEN))
    error = np.linalg.norm(up - state["model.layers.1.mlp.up_proj.weight"]) / np.linalg.norm(up)
    assert error == 0.0 if qtype == "F32" else error < {"F16": 1e-3, "Q8_0": 1e-2, "Q4_0": 0.15}[qtype]


def test_analysis_of_an_f32_gguf_equals_that_of_its_checkpoint(checkpoint):
    root, _ = checkpoint
    ours = {row.name: row for row in analyze(root / "model-F32.gguf").layers}
    reference = {row.name: row for row in analyze(root / "hf").layers}
    assert set(ours) == set(reference) and len(ours) == 2 + 7 * BLOCKS
    for name, row in reference.items():
        np.testing.assert_allclose(ours[name].eigenvalues, row.eigenvalues, rtol=1e-12, atol=1e-15)
        assert ours[name].kind == row.kind and ours[name].phase == row.phase


def test_compare_lines_up_a_checkpoint_and_its_quantization(checkpoint, capsys):
    root, _ = checkpoint
    assert main(["compare", str(root / "hf"), str(root / "model-Q4_0.gguf")]) == 0
    out = capsys.readouterr().out
    assert f"{2 + 7 * BLOCKS} layers matched ({2 + 7 * BLOCKS} by name, 0 by shape)" in out


def test_broken_gguf_files_are_refused_in_one_line(checkpoint, tmp_path):
    root, _ = checkpoint
    data = (root / "model-Q8_0.gguf").read_bytes()
    (tmp_path / "magic.gguf").write_bytes(b"GGUX" + data[4:])
    (tmp_path / "cut.gguf").write_bytes(data[: len(data) // 3])
    (tmp_path / "header.gguf").write_bytes(data[:100])
    for name in ("magic.gguf", "cut.gguf", "header.gguf"):
        with pytest.raises(SourceError, match=name):
            weights = list(iter_weight_matrices(open_source(tmp_path / name)))
            for weight in weights:
                weight.load()


def test_compress_refuses_gguf_with_a_reason(checkpoint, tmp_path):
    from netspectra.denoise import compress_model

    root, _ = checkpoint
    with pytest.raises(UsageError, match="cannot carry quantized tensors"):
        compress_model(root / "model-Q8_0.gguf", tmp_path / "c.safetensors", method="rank:2")
    assert not (tmp_path / "c.safetensors").exists()


def test_rotary_permutation_of_q_and_k_is_undone(checkpoint):
    """A file converted as llama.cpp does (Q, K rows permuted for its rotary layout, 8 query and 4
    key-value heads) reads back as the Hugging Face matrices exactly, so compare sees no change."""
    root, state = checkpoint
    records = {r.name: r for r in open_source(root / "converted.gguf").tensors()}
    for name, value in state.items():
        np.testing.assert_array_equal(records[name].load(), value, err_msg=name)
    raw = {r.name: r for r in open_source(root / "model-F32.gguf").tensors()}  # no head counts: left as stored
    q = "model.layers.0.self_attn.q_proj.weight"
    assert np.array_equal(raw[q].load(), state[q]) and not np.array_equal(llama_cpp_permute(state[q], HEADS), state[q])


def test_compare_ranks_the_layers_quantization_damaged_most(checkpoint, capsys):
    """ "Did quantization damage my model?": compare --rank lists layers by relative error of W, and Q/K
    of a converted file show the quantization error (about 0.13 for Q4_0), not a row shuffle (1.4)."""
    import json

    root, _ = checkpoint
    assert main(["compare", str(root / "hf"), str(root / "converted-Q4_0.gguf"), "--rank", "--json"]) == 0
    layers = json.loads(capsys.readouterr().out)["layers"]
    errors = [layer["diff_rel_frobenius"] for layer in layers]
    assert errors == sorted(errors, reverse=True) and len(errors) == 2 + 7 * BLOCKS
    assert max(errors) < 0.2 and min(errors) > 0.05


def test_a_128k_vocabulary_output_layer_is_analyzed_not_skipped(tmp_path):
    """WeightWatcher skips matrices larger than 15000 x 50000; here every layer is analyzed, the cost
    being that of its smaller side (a 131072 x 32 Gram is 32 x 32)."""
    rng = np.random.default_rng(5)
    head = (rng.standard_normal((131_072, 32)) / np.sqrt(32)).astype(np.float32)
    write_gguf_file(tmp_path / "head.gguf", {"output.weight": head}, types={"output.weight": "Q8_0"})
    (row,) = analyze(tmp_path / "head.gguf").layers
    assert (row.name, row.N, row.M, row.status, row.dtype) == ("lm_head.weight", 131_072, 32, "ok", "Q8_0")


def test_merge_refuses_quantized_models_with_a_reason(checkpoint, tmp_path, capsys):
    root, _ = checkpoint
    config = tmp_path / "merge.yaml"
    import shutil

    shutil.copy(root / "model-Q8_0.gguf", tmp_path / "copy.gguf")
    config.write_text(f"models: [{root / 'model-Q8_0.gguf'}, {tmp_path / 'copy.gguf'}]\nmethod: linear\n")
    assert main(["merge", str(config), "-o", str(tmp_path / "out"), "--quiet"]) == 2
    assert "cannot carry quantized tensors" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_prune_analyzes_gguf_but_refuses_to_write_it_pruned(checkpoint, tmp_path, capsys):
    root, _ = checkpoint
    assert main(["prune", str(root / "model-Q8_0.gguf"), "--sparsity", "0.5", "-o", str(tmp_path / "r.json")]) == 0
    assert main(["prune", str(root / "model-Q8_0.gguf"), "--sparsity", "0.5", "--write", str(tmp_path / "p.safetensors")]) == 2
    assert "cannot carry the quantized tensors" in capsys.readouterr().err and not (tmp_path / "p.safetensors").exists()


def test_gemma3_mlp_names_are_those_of_the_hugging_face_model(tmp_path):
    """The issue's case: Gemma 3's three MLP projections all under ``mlp.`` (``ffn_up`` was ``feed_forward.up_proj``)."""
    rng = np.random.default_rng(0)
    leaves = (("ffn_gate", (32, 16)), ("ffn_up", (32, 16)), ("ffn_down", (16, 32)), ("attn_q_norm", (8,)))
    tensors = {f"blk.0.{leaf}.weight": rng.standard_normal(shape).astype(np.float32) for leaf, shape in leaves}
    write_gguf_file(tmp_path / "g.gguf", tensors, arch="gemma3")
    names = [r.name for r in open_source(tmp_path / "g.gguf").tensors()]
    assert names == [
        "model.layers.0.mlp.gate_proj.weight",
        "model.layers.0.mlp.up_proj.weight",
        "model.layers.0.mlp.down_proj.weight",
        "model.layers.0.self_attn.q_norm.weight",
    ]


def test_experts_gate_and_up_are_joined_only_when_both_are_there(tmp_path):
    """transformers joins a block's ffn_gate_exps and ffn_up_exps into mlp.experts.gate_up_proj (gate first,
    along dim 1); a file holding one of them keeps its name for it rather than half a parameter."""
    rng = np.random.default_rng(3)
    parts = {leaf: rng.standard_normal((4, 8, 32)).astype(np.float32) for leaf in ("ffn_gate_exps", "ffn_up_exps")}
    for name, leaves in (("both.gguf", ("ffn_gate_exps", "ffn_up_exps")), ("gate.gguf", ("ffn_gate_exps",))):
        write_gguf_file(tmp_path / name, {f"blk.0.{leaf}.weight": parts[leaf] for leaf in leaves}, arch="qwen3moe")
    (joined,) = open_source(tmp_path / "both.gguf").tensors()
    assert (joined.name, joined.shape) == ("model.layers.0.mlp.experts.gate_up_proj", (4, 16, 32))
    np.testing.assert_array_equal(joined.load(), np.concatenate([parts["ffn_gate_exps"], parts["ffn_up_exps"]], axis=1))
    (alone,) = open_source(tmp_path / "gate.gguf").tensors()
    assert (alone.name, alone.shape) == ("blk.0.ffn_gate_exps.weight", (4, 8, 32))
