"""A Hugging Face Hub id resolved from a hand-made cache in the Hub layout (issue 16); never a download.

The layout is the one ``huggingface_hub`` writes: ``models--org--name/refs/main`` holds the commit,
``snapshots/<commit>/`` holds symlinks into ``blobs/``.
"""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import save_file

from netspectra.cli import main
from netspectra.errors import SourceError
from netspectra.io import open_source
from netspectra.io.hub import looks_like_hub_id

pytest.importorskip("huggingface_hub")

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
