import numpy as np
import pytest

from fixtures_models import write_safetensors
from netspectra.errors import NetspectraError, SourceError, UsageError
from netspectra.io import NOTE_UNSPLIT, TensorRecord, iter_weight_matrices, plan_tensor


def _rec(name, shape, dtype="F32", kind=None, value=None):
    arr = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) if value is None else value
    return TensorRecord(name, tuple(shape), dtype, "test", lambda: arr, kind)


@pytest.mark.parametrize(
    "name, shape, kind, k, mshape",
    [
        ("model.layers.0.mlp.up_proj.weight", (32, 8), "linear", 1, (32, 8)),
        ("model.embed_tokens.weight", (50, 8), "embedding", 1, (50, 8)),
        ("transformer.wte.weight", (50, 8), "embedding", 1, (50, 8)),
        ("tok_embeddings.weight", (50, 8), "embedding", 1, (50, 8)),
        ("shared.weight", (50, 8), "embedding", 1, (50, 8)),
        ("conv.weight", (4, 6, 3), "conv1d", 3, (6, 4)),
        ("conv.weight", (4, 6, 3, 2), "conv2d", 6, (6, 4)),
        ("conv.weight", (4, 6, 1, 2, 2), "conv3d", 4, (6, 4)),
    ],
)
def test_kinds_and_shapes(name, shape, kind, k, mshape):
    (p,), reason = plan_tensor(_rec(name, shape))
    assert reason is None and p.kind == kind and p.num_matrices == k and p.matrix_shape == mshape
    x = p.loader()
    assert x.shape == (k, *mshape) and x.dtype == np.float64


@pytest.mark.parametrize(
    "name, shape, dtype",
    [
        ("fc.bias", (8,), "F32"),
        ("ln.weight", (8,), "F32"),
        ("model.norm.weight", (2, 8), "F32"),
        ("h.0.attn.bias", (1, 1, 4, 4), "F32"),
        ("h.0.attn.masked_bias", (1, 1), "F32"),
        ("x.weight", (1, 1, 1, 1, 1, 2), "F32"),
        ("mask", (4, 4), "BOOL"),
        ("input_ids", (2, 4), "I64"),
        ("scatter_index", (2, 4), "I32"),
        ("features.3.depthwise.weight", (32, 1, 3, 3), "F32"),
    ],
)
def test_skipped(name, shape, dtype):
    planned, reason = plan_tensor(_rec(name, shape, dtype))
    assert planned == [] and reason


def test_depthwise_conv_is_skipped_with_its_reason_not_an_error_row():
    """A depthwise kernel (out, 1, k, k) holds one number per filter and position: no matrix to analyze
    (it used to give a 32 x 1 'single eigenvalue' error row per layer)."""
    planned, reason = plan_tensor(_rec("features.3.depthwise.weight", (32, 1, 3, 3)))
    assert planned == [] and reason.startswith("depthwise conv")
    (p,), reason = plan_tensor(_rec("features.4.pointwise.weight", (32, 16, 1, 1)))
    assert reason is None and p.matrix_shape == (32, 16)


@pytest.mark.parametrize(
    "name, shape, blocks",
    [
        ("blocks.0.attn.qkv.weight", (24, 8), "rows"),
        ("layers.0.attn.Wqkv.weight", (24, 8), "rows"),
        ("self_attn.qkv_proj.weight", (24, 8), "rows"),
        ("attn.in_proj_weight", (24, 8), "rows"),
        ("h.0.attn.c_attn.weight", (8, 24), "cols"),
    ],
)
def test_fused_qkv_split(name, shape, blocks):
    rec = _rec(name, shape)
    parts, _ = plan_tensor(rec)
    w = rec.load()
    assert [p.name for p in parts] == [f"{name}[q]", f"{name}[k]", f"{name}[v]"]
    assert [p.kind for p in parts] == ["attention_q", "attention_k", "attention_v"]
    for i, p in enumerate(parts):
        want = w[8 * i : 8 * (i + 1)] if blocks == "rows" else w[:, 8 * i : 8 * (i + 1)]
        assert p.matrix_shape == (8, 8)
        np.testing.assert_array_equal(p.loader()[0], want)


@pytest.mark.parametrize("name, shape", [("attn.qkv.weight", (20, 8)), ("h.0.attn.c_attn.weight", (8, 20))])
def test_fused_qkv_not_divisible_left_unsplit(name, shape):
    (p,), _ = plan_tensor(_rec(name, shape))
    assert p.kind == "linear" and p.notes == (NOTE_UNSPLIT,) and p.name == name


def test_filters_and_layer_index(tmp_path):
    r = np.random.default_rng(0)
    tensors = {
        "a.weight": r.standard_normal((4, 3)).astype(np.float32),
        "b.weight": r.standard_normal((300, 3)).astype(np.float32),
        "c.attn.qkv.weight": r.standard_normal((12, 4)).astype(np.float32),
        "d.weight": r.standard_normal((1, 9)).astype(np.float32),
        "e.weight": r.standard_normal((6, 5)).astype(np.float32),
    }
    path = write_safetensors(tmp_path / "m.safetensors", tensors)

    def names(**kw):
        wms = list(iter_weight_matrices(path, **kw))
        assert [w.layer_index for w in wms] == list(range(len(wms)))
        return [w.name for w in wms]

    # One default everywhere (LayerSelection.min_dim = 1): the 1 x 9 matrix is yielded, and analyze gives
    # it an error row saying why it has no spectrum.
    assert names() == [
        "a.weight",
        "b.weight",
        "c.attn.qkv.weight[q]",
        "c.attn.qkv.weight[k]",
        "c.attn.qkv.weight[v]",
        "d.weight",
        "e.weight",
    ]
    assert names(min_dim=2) == [
        "a.weight",
        "b.weight",
        "c.attn.qkv.weight[q]",
        "c.attn.qkv.weight[k]",
        "c.attn.qkv.weight[v]",
        "e.weight",
    ]
    assert names(min_dim=4) == ["c.attn.qkv.weight[q]", "c.attn.qkv.weight[k]", "c.attn.qkv.weight[v]", "e.weight"]
    assert names(max_dim=10, min_dim=2) == [
        "a.weight",
        "c.attn.qkv.weight[q]",
        "c.attn.qkv.weight[k]",
        "c.attn.qkv.weight[v]",
        "e.weight",
    ]
    assert names(include=r"qkv") == ["c.attn.qkv.weight[q]", "c.attn.qkv.weight[k]", "c.attn.qkv.weight[v]"]
    assert names(include=r"qkv\.weight$", exclude=r"\[k\]") == ["c.attn.qkv.weight[q]", "c.attn.qkv.weight[v]"]
    assert names(exclude=r"^(a|b|d)\.") == ["c.attn.qkv.weight[q]", "c.attn.qkv.weight[k]", "c.attn.qkv.weight[v]", "e.weight"]
    skipped = []
    list(iter_weight_matrices(path, include="^e", on_skip=lambda n, why: skipped.append(n)))
    assert "a.weight" in skipped and "d.weight" in skipped


def test_usage_and_source_errors(tmp_path):
    path = write_safetensors(tmp_path / "m.safetensors", {"w": np.ones((3, 3), np.float32)})
    with pytest.raises(UsageError, match="include"):
        iter_weight_matrices(path, include="(")
    with pytest.raises(UsageError):
        iter_weight_matrices(path, min_dim=-1)
    with pytest.raises(UsageError):
        iter_weight_matrices(path, min_dim=5, max_dim=3)
    with pytest.raises(SourceError, match="no such file"):
        iter_weight_matrices(tmp_path / "nope.safetensors")
    (tmp_path / "w.pb").write_bytes(b"x")
    with pytest.raises(SourceError, match="unknown file type .pb"):
        iter_weight_matrices(tmp_path / "w.pb")
    with pytest.raises(NetspectraError):
        iter_weight_matrices(object())


def test_shape_mismatch_from_loader_is_a_source_error():
    rec = TensorRecord("w", (3, 2), "F32", "test", lambda: np.ones((2, 2), np.float32))
    (p,), _ = plan_tensor(rec)
    with pytest.raises(SourceError, match="shape"):
        p.loader()
