"""A Hugging Face Hub id resolved from a hand-made cache in the Hub layout (issue 16); never a download.

The layout is the one ``huggingface_hub`` writes: ``models--org--name/refs/main`` holds the commit,
``snapshots/<commit>/`` holds symlinks into ``blobs/``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

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
