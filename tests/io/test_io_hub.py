"""A Hugging Face Hub id resolved from a hand-made cache in the Hub layout (issue 16); never a download.

The layout is the one ``huggingface_hub`` writes: ``models--org--name/refs/main`` holds the commit,
``snapshots/<commit>/`` holds symlinks into ``blobs/``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from gguf_files import write_gguf_file
from netspectra.cli import main
from netspectra.errors import SourceError
from netspectra.io import open_source
from netspectra.io.hub import looks_like_hub_id

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture()
def hub_cache(tmp_path, monkeypatch):
    repo = tmp_path / "hub" / "models--org--tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    blobs, snapshot = repo / "blobs", repo / "snapshots" / COMMIT
    blobs.mkdir()
    snapshot.mkdir(parents=True)
    rng = np.random.default_rng(0)
    save_file({"layers.0.weight": rng.standard_normal((48, 32)).astype(np.float32)}, str(blobs / "a1"))
    (blobs / "c2").write_text('{"model_type": "tiny"}')
    (snapshot / "model.safetensors").symlink_to("../../blobs/a1")
    (snapshot / "config.json").symlink_to("../../blobs/c2")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.chdir(tmp_path)  # no folder named org/ here
    return snapshot


def test_hub_id_opens_the_cached_snapshot(hub_cache):
    source = open_source("org/tiny")
    assert source.path == hub_cache and source.config == {"model_type": "tiny"}
    assert [r.name for r in source.tensors()] == ["layers.0.weight"]
    assert open_source(f"org/tiny@{COMMIT}").path == hub_cache


def test_the_snapshot_is_the_one_huggingface_hub_finds(hub_cache):
    """netspectra reads the cache layout itself (bounded, confined); huggingface_hub agrees on where."""
    hf = pytest.importorskip("huggingface_hub")
    for revision in (None, "main", COMMIT):
        theirs = hf.snapshot_download("org/tiny", revision=revision, cache_dir=hub_cache.parents[2], local_files_only=True)
        ours = open_source("org/tiny" + (f"@{revision}" if revision else "")).path
        assert ours.resolve() == Path(theirs).resolve()


def test_a_tag_with_a_slash_and_a_ref_ending_in_a_newline(hub_cache):
    refs = hub_cache.parents[1] / "refs"
    (refs / "pr").mkdir()
    (refs / "pr" / "1").write_text(COMMIT + "\n")
    assert open_source("org/tiny@pr/1").path == hub_cache


def test_a_revision_not_in_the_cache_is_one_line(hub_cache, capsys):
    assert main(["analyze", "org/tiny@v2"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "no such revision in the local Hugging Face cache" in line and "refs/v2" in line


def test_a_cache_folder_that_is_a_link_is_the_cache(hub_cache, tmp_path, monkeypatch):
    """A cache moved to another disk and linked back (HF_HUB_CACHE -> /data/hub) is still the root."""
    (tmp_path / "linked").symlink_to(tmp_path / "hub")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "linked"))
    assert [r.name for r in open_source("org/tiny").tensors()] == ["layers.0.weight"]


def test_cache_miss_is_one_line_naming_the_id_and_how_to_fetch_it(hub_cache, capsys):
    assert main(["analyze", "org/absent"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "org/absent" in err and "hf download org/absent" in err
    assert "never downloads" in err


def test_an_existing_folder_wins_over_the_hub(hub_cache, tmp_path):
    local = tmp_path / "org" / "tiny"
    local.mkdir(parents=True)
    save_file({"w.weight": np.ones((4, 4), np.float32)}, str(local / "model.safetensors"))
    assert open_source("org/tiny").path.resolve() == local


def test_what_reads_as_a_hub_id():
    assert looks_like_hub_id("Qwen/Qwen2.5-0.5B") and looks_like_hub_id("meta-llama/Llama-3.1-8B@main")
    for path in ("model.safetensors", "./org/name", "/abs/path", "a/b/c", "../x", "org/..", "org/na me"):
        assert not looks_like_hub_id(path), path


def test_missing_path_that_is_not_an_id_keeps_its_message(tmp_path):
    with pytest.raises(SourceError, match="no such file or directory$"):
        open_source(tmp_path / "missing.safetensors")


# ------------------------------------------------------------------ a file of a snapshot (issue 26, item 7)


@pytest.fixture()
def quantized_repo(hub_cache):
    """``org/quant``: one model shipped as two GGUF quantizations (Q4_0 and Q8_0) in one snapshot."""
    pytest.importorskip("gguf")
    repo = hub_cache.parents[2] / "models--org--quant"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    blobs, snapshot = repo / "blobs", repo / "snapshots" / COMMIT
    blobs.mkdir()
    snapshot.mkdir(parents=True)
    weight = np.random.default_rng(1).standard_normal((64, 64)).astype(np.float32)
    for blob, qtype in (("q4", "Q4_0"), ("q8", "Q8_0")):
        write_gguf_file(blobs / blob, {"blk.0.attn_q.weight": weight}, blocks=None, types={"blk.0.attn_q.weight": qtype})
        (snapshot / f"quant-{qtype}.gguf").symlink_to(f"../../blobs/{blob}")
    return snapshot


def test_a_snapshot_of_two_quantizations_lists_the_choices(quantized_repo, capsys):
    """It said 'no recognizable weights in directory (expected ... *.gguf)' of a folder holding two."""
    with pytest.raises(SourceError) as caught:
        open_source("org/quant")
    message = str(caught.value)
    assert "holds 2 weight files and nothing says which is the model" in message
    assert message.endswith("name one: org/quant:quant-Q4_0.gguf, org/quant:quant-Q8_0.gguf")
    assert main(["analyze", "org/quant@main"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "org/quant@main:quant-Q4_0.gguf, org/quant@main:quant-Q8_0.gguf" in line


def test_a_hub_id_names_one_file_of_the_snapshot(quantized_repo):
    for text in ("org/quant:quant-Q8_0.gguf", f"org/quant@{COMMIT}:quant-Q8_0.gguf", "org/quant@main:quant-Q8_0.gguf"):
        source = open_source(text)
        assert source.format == "gguf" and source.path == quantized_repo / "quant-Q8_0.gguf", text
        assert [(r.shape, r.dtype) for r in source.tensors()] == [((64, 64), "Q8_0")]
    assert [r.dtype for r in open_source("org/quant:quant-Q4_0.gguf").tensors()] == ["Q4_0"]


def test_a_file_of_the_plain_snapshot_and_its_config(hub_cache):
    source = open_source("org/tiny:model.safetensors")
    assert source.path == hub_cache / "model.safetensors" and source.config == {"model_type": "tiny"}


def test_a_hub_path_written_as_a_url_says_how_to_name_the_file(quantized_repo):
    """``org/name/file.gguf`` said 'no such file or directory' and nothing more."""
    with pytest.raises(SourceError, match=r"no such file or directory \(a file of the cached Hub model org/quant is named "):
        open_source("org/quant/quant-Q8_0.gguf")
    with pytest.raises(SourceError, match=r"no such file or directory$"):
        open_source("org/absent/quant-Q8_0.gguf")


def test_a_file_the_snapshot_does_not_have_lists_what_it_has(quantized_repo):
    with pytest.raises(SourceError, match=r"no file quant-Q5_K\.gguf in the cached snapshot 0123456789ab of org/quant "):
        open_source("org/quant:quant-Q5_K.gguf")
    with pytest.raises(SourceError, match=r"\(it has: quant-Q4_0\.gguf, quant-Q8_0\.gguf\)$"):
        open_source("org/quant:quant-Q5_K.gguf")


@pytest.mark.hardening
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("org/quant:../../../models--org--tiny/blobs/a1", "escapes the model directory"),
        ("org/quant:/etc/passwd", "is an absolute path outside the model directory"),
    ],
)
def test_the_named_file_stays_inside_the_snapshot(quantized_repo, text, message):
    with pytest.raises(SourceError, match=message):
        open_source(text)


def test_what_reads_as_a_hub_id_with_a_file():
    for text in ("org/name:model-q4_k_m.gguf", "org/name@v1.0:sub/model.gguf", f"org/name@{COMMIT}:x.safetensors"):
        assert looks_like_hub_id(text), text
    for text in ("org/name@..:x.gguf", "org/../x:y.gguf", "org/name:", "org/name:a b.gguf"):
        assert not looks_like_hub_id(text), text
