"""Compression judged by what the model computes (issue 27): a small BERT built here, run by transformers on
the probe sentences before and after compression.

The audit: ``--method energy:0.9``, which the refusal suggested, passed the per-layer check although MiniLM's
sentence embeddings kept cosine 0.54 with the original's; with ``--shrink frobenius`` the refusal
recommended the method it had refused."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from netspectra.denoise import compress_model, load_factored
from netspectra.denoise.function import MIN_MEAN_COSINE
from netspectra.denoise.probe import PROBE_SENTENCES
from netspectra.errors import CompressionRefused

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _config(**overrides):
    # initializer_range 0.3: weights large enough that the layers matter to the output (at BERT's 0.02 the
    # residual stream is mostly the embeddings and any compression keeps cosine ~0.99)
    settings = dict(
        vocab_size=320, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
        max_position_embeddings=64, initializer_range=0.3,
    )  # fmt: skip
    return transformers.BertConfig(**{**settings, **overrides})


def _save(model, folder, tokenizer=True):
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    if tokenizer:
        words = sorted({w for s in PROBE_SENTENCES for w in re.findall(r"\w+|[^\w\s]", s.lower())})
        (folder / "vocab.txt").write_text("\n".join(SPECIALS + words) + "\n")
        transformers.BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    """A BertModel folder: config.json, model.safetensors and a WordPiece vocabulary of the probe's words."""
    torch.manual_seed(0)
    return _save(transformers.BertModel(_config()).eval(), tmp_path_factory.mktemp("bert") / "model")


def _suggested(message: str) -> tuple[str, str]:
    match = re.search(r"passes: use --method (\S+?)(?: --shrink (\S+?))?,", message)
    assert match, message
    return match.group(1), match.group(2) or "hard"


def _pooled(model, folder, weights=None):
    if weights is not None:
        model.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in weights.items()}, strict=False)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    encoded = tokenizer(list(PROBE_SENTENCES), padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**encoded).last_hidden_state.double()
    mask = encoded["attention_mask"][..., None].double()
    return ((hidden * mask).sum(1) / mask.sum(1)).numpy()


def test_energy_09_passes_every_layer_but_not_the_function_and_is_refused(bert, tmp_path):
    out = tmp_path / "o.safetensors"
    with pytest.raises(
        CompressionRefused, match=r"function: the last hidden state on 32 probe sentences .* keep mean cosine 0\.\d+ .*fails"
    ) as info:
        compress_model(bert, out, method="energy:0.9")
    assert "\n" not in str(info.value) and not out.exists()
    report = compress_model(bert, out, method="energy:0.9", force=True)
    assert not report.damaged  # the per-layer check alone let it through
    check = report.function
    assert check.judge == "outputs" and not check.passed and check.mean_cosine < 0.9 and check.rel_error > 0.3
    assert check.inputs == "32 probe sentences (the model's tokenizer)" and check.output == "last hidden state"


def test_the_check_measures_the_written_file(bert, tmp_path):
    """The reported cosine is the one of the model rebuilt from the output file, run independently here."""
    out = tmp_path / "o.safetensors"
    report = compress_model(bert, out, method="energy:0.99", force=True)
    model = transformers.BertModel.from_pretrained(bert).eval()
    original = _pooled(model, bert)
    compressed = _pooled(model, bert, load_factored(out))
    cosines = np.sum(original * compressed, axis=1) / np.linalg.norm(original, axis=1) / np.linalg.norm(compressed, axis=1)
    assert report.function.mean_cosine == pytest.approx(cosines.mean(), abs=1e-5)
    assert report.function.min_cosine == pytest.approx(cosines.min(), abs=1e-5)


def test_a_refusal_suggests_only_a_setting_that_passes(bert, tmp_path):
    with pytest.raises(CompressionRefused) as info:
        compress_model(bert, tmp_path / "o.safetensors", method="rank:40")
    method, shrink = _suggested(str(info.value))
    report = compress_model(bert, tmp_path / "o.safetensors", method=method, shrink=shrink)  # not refused
    assert report.function.passed and report.function.mean_cosine >= MIN_MEAN_COSINE and not report.damaged


def test_with_frobenius_the_refusal_never_recommends_what_it_refused(bert, tmp_path):
    """energy:F with a shrinker keeps what the RMT thresholds keep: the old refusal recommended energy:0.9 to
    a user refused for ``--method energy:0.9 --shrink frobenius``."""
    with pytest.raises(CompressionRefused) as info:
        compress_model(bert, tmp_path / "o.safetensors", method="energy:0.9", shrink="frobenius")
    message = str(info.value)
    method, shrink = _suggested(message)
    assert shrink == "hard" and f"--method {method} --shrink hard," in message
    assert compress_model(bert, tmp_path / "o.safetensors", method=method, shrink=shrink).function.passed


def test_a_refusal_with_no_setting_that_passes_says_so(tmp_path):
    """A model so sensitive that even energy:0.999 moves its outputs: nothing is suggested, the closest try
    is named."""
    torch.manual_seed(1)
    folder = _save(transformers.BertModel(_config(initializer_range=2.0)).eval(), tmp_path / "m")
    with pytest.raises(
        CompressionRefused, match=r"no setting tried passes .* the least compressive, energy:0\.999 \(mean cosine"
    ) as info:
        compress_model(folder, tmp_path / "o.safetensors", method="energy:0.95")
    assert "use --method" not in str(info.value)


def test_without_a_tokenizer_the_model_reads_random_token_ids(tmp_path):
    torch.manual_seed(0)
    folder = _save(transformers.BertModel(_config()).eval(), tmp_path / "m", tokenizer=False)
    report = compress_model(folder, tmp_path / "o.safetensors", method="energy:0.999")
    assert report.function.judge == "outputs" and report.function.passed
    assert report.function.inputs == "32 x 16 random token ids (seed 20260527; no usable tokenizer)"


def test_a_model_with_a_head_is_compared_on_its_logits(tmp_path):
    torch.manual_seed(0)
    folder = _save(transformers.BertForMaskedLM(_config()).eval(), tmp_path / "m")
    report = compress_model(folder, tmp_path / "o.safetensors", method="energy:0.9", force=True)
    assert report.function.judge == "outputs" and report.function.output == "logits"
    assert "bert.embeddings.word_embeddings.weight" in {layer.name for layer in report.layers}


def test_weights_that_are_not_the_folder_model_are_judged_by_the_bound(bert, tmp_path):
    """A file next to config.json that is not what from_pretrained loads there: the model is not run."""
    from safetensors.numpy import load_file, save_file

    folder = tmp_path / "m"
    shutil.copytree(bert, folder)
    tensors = load_file(str(folder / "model.safetensors"))
    tensors["encoder.layer.0.intermediate.dense.weight"] = tensors["encoder.layer.0.intermediate.dense.weight"] * 1.5
    save_file(tensors, str(folder / "other.safetensors"))
    report = compress_model(folder / "other.safetensors", tmp_path / "o.safetensors", method="energy:0.999", force=True)
    assert report.function.judge == "bound"
    assert (
        report.function.note
        == "the folder's model does not hold these weights (encoder.layer.0.intermediate.dense.weight differs)"
    )


@pytest.mark.hardening
def test_a_config_that_declares_a_huge_model_is_not_instantiated(bert, tmp_path):
    """config.json is read before the weights: a 4-billion-row vocabulary is counted on the meta device, not
    allocated."""
    folder = tmp_path / "m"
    shutil.copytree(bert, folder)
    config = json.loads((folder / "config.json").read_text())
    config["vocab_size"] = 4_000_000_000
    (folder / "config.json").write_text(json.dumps(config))
    report = compress_model(folder / "model.safetensors", tmp_path / "o.safetensors", method="energy:0.999", force=True)
    assert report.function.judge == "bound" and report.function.note.startswith("config.json declares 256,000,")


def test_the_command_line_shows_and_exports_the_check(bert, tmp_path, capsys):
    from netspectra.cli import main

    out = tmp_path / "o.safetensors"
    assert main(["compress", str(bert), "-o", str(out), "--method", "energy:0.999"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert re.search(
        r"function: the last hidden state on 32 probe sentences \(the model's tokenizer\) keep mean cosine 0\.99\d", text
    )
    assert main(["compress", str(bert), "-o", str(out), "--method", "energy:0.9", "--force", "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)["summary"]
    assert summary["function_judge"] == "outputs" and summary["function_passed"] is False
    assert 0 < summary["function_mean_cosine"] < MIN_MEAN_COSINE and summary["function_rel_error"] > 0
    assert "netspectra: warning: function: the last hidden state" in captured.err
    assert main(["compress", str(bert), "-o", str(out), "--method", "energy:0.9", "--quiet"]) == 2
    assert "refused, nothing written" in capsys.readouterr().err
