"""Files a model refers to stay inside the model folder; outputs never overwrite inputs; special files
are refused before they are opened (issue 19).

The attacks: a downloaded model folder whose weights, shards, config or ONNX external data are symlinks
to files of the user's (``compress``/``merge`` would copy their bytes into the output); an output named
like an input's external data file or a hard link of an input; a FIFO where an index is expected (the
directory scan used to block on it forever).
"""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
from safetensors.numpy import save_file

from fixtures_models import write_onnx_model
from netspectra.cli import main
from netspectra.denoise import compress_model
from netspectra.errors import SourceError, UnsafeFileError, UsageError
from netspectra.io import iter_weight_matrices, open_source

SECRET = b"user's private key, not a model" * 100


@pytest.fixture()
def secret(tmp_path):
    path = tmp_path / "home" / "secret.bin"
    path.parent.mkdir()
    path.write_bytes(SECRET)
    return path


def _weights(path, seed=0):
    rng = np.random.default_rng(seed)
    save_file({"fc.weight": rng.standard_normal((64, 32)).astype(np.float32)}, str(path))


def test_onnx_external_data_linked_outside_is_refused_and_never_copied(tmp_path, secret):
    """The external data file named by the model is a symlink to a file of the user's: refused, and
    compress writes nothing (it used to copy those bytes into the output as a UINT8 initializer)."""
    pytest.importorskip("onnx")
    d = tmp_path / "model"
    d.mkdir()
    write_onnx_model(d / "m.onnx", external=True)
    data = d / "m.onnx.data"
    secret.write_bytes(data.read_bytes())  # same size, so that only the link gives it away
    data.unlink()
    data.symlink_to(secret)
    with pytest.raises(UnsafeFileError, match="links to a file outside the model directory"):
        open_source(d / "m.onnx")
    out = tmp_path / "out.safetensors"
    with pytest.raises(UnsafeFileError):
        compress_model(d / "m.onnx", out, method="rank:2", force=True)
    assert not out.exists()


@pytest.mark.parametrize("how", ["shard link", "directory link", "single file link"])
def test_weights_linked_outside_the_model_folder_are_refused(tmp_path, how):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    _weights(outside / "w.safetensors")
    d = tmp_path / "model"
    d.mkdir()
    (d / "config.json").write_text("{}")
    if how == "shard link":
        (d / "a.safetensors").symlink_to(outside / "w.safetensors")
        (d / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"fc.weight": "a.safetensors"}}))
    elif how == "directory link":
        (d / "sub").symlink_to(outside)
        (d / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"fc.weight": "sub/w.safetensors"}}))
    else:
        (d / "model.safetensors").symlink_to(outside / "w.safetensors")
    with pytest.raises(UnsafeFileError, match="outside the model directory.*open that file by its own path"):
        list(iter_weight_matrices(d))
    assert [w.name for w in iter_weight_matrices(outside / "w.safetensors")] == ["fc.weight"]  # named: trusted


def test_a_hugging_face_cache_snapshot_links_into_its_blobs(tmp_path):
    """models--org--name/snapshots/REV/model.safetensors -> ../../blobs/SHA is the cache's own layout."""
    repo = tmp_path / "models--org--tiny"
    (repo / "blobs").mkdir(parents=True)
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    _weights(repo / "blobs" / "0f1e2d")
    (repo / "blobs" / "c0nf19").write_text("{}")
    (snapshot / "model.safetensors").symlink_to("../../blobs/0f1e2d")
    (snapshot / "config.json").symlink_to("../../blobs/c0nf19")
    assert [w.name for w in iter_weight_matrices(snapshot)] == ["fc.weight"]


def test_a_config_linked_outside_is_not_read_nor_copied_by_merge(tmp_path, secret):
    secret.write_text('{"token": "hunter2"}')
    d = tmp_path / "model"
    d.mkdir()
    _weights(d / "model.safetensors")
    (d / "config.json").symlink_to(secret)
    with pytest.raises(UnsafeFileError, match="config"):
        open_source(d)


def test_a_fifo_where_an_index_is_expected_does_not_block(tmp_path):
    """A FIFO named *.safetensors.index.json used to block the directory scan until killed; a FIFO as the
    model itself or as config.json is refused before it is opened."""
    d = tmp_path / "model"
    d.mkdir()
    _weights(d / "w.safetensors")
    os.mkfifo(d / "x.safetensors.index.json")
    os.mkfifo(d / "config.json")
    signal.alarm(20)  # a regression would hang: fail instead of blocking the suite
    try:
        assert [w.name for w in iter_weight_matrices(d)] == ["fc.weight"]
        with pytest.raises(SourceError, match="not a regular file"):
            open_source(d / "x.safetensors.index.json")
    finally:
        signal.alarm(0)


def test_compress_never_overwrites_an_input_by_inode(tmp_path, capsys):
    """-o naming the ONNX model's external data file (only the .onnx was checked) or a hard link of the
    input: refused with one line, the input unchanged."""
    pytest.importorskip("onnx")
    write_onnx_model(tmp_path / "m.onnx", external=True)
    data = tmp_path / "m.onnx.data"
    before = data.read_bytes()
    code = main(["compress", str(tmp_path / "m.onnx"), "--method", "rank:2", "--force", "--quiet", "-o", str(data)])
    [line] = capsys.readouterr().err.splitlines()
    assert code == 2 and "refusing to overwrite an input file" in line
    assert data.read_bytes() == before
    _weights(tmp_path / "w.safetensors")
    os.link(tmp_path / "w.safetensors", tmp_path / "alias.safetensors")
    with pytest.raises(UsageError, match="refusing to overwrite"):
        compress_model(tmp_path / "w.safetensors", tmp_path / "alias.safetensors", method="rank:2", force=True, factored=False)


def test_safetensors_error_does_not_echo_the_files_first_bytes(tmp_path):
    """A text file named .safetensors used to end in "header length 8245935278387129712 exceeds ...":
    its first 8 bytes, readable back from the number."""
    path = tmp_path / "notes.safetensors"
    path.write_bytes(b"password=hunter2 and more private text")
    leaked = str(int.from_bytes(b"password", "little"))
    with pytest.raises(SourceError) as err:
        open_source(path)
    assert "not a safetensors file" in str(err.value) and leaked not in str(err.value)


def test_input_files_are_every_file_a_source_reads(tmp_path):
    """What no output may overwrite (issue 25): weights, index, config.json, an adapter's config and its
    base's files; the same list whether given a path or an open source."""
    from netspectra.io.inputs import input_files, model_input_files

    d = tmp_path / "sharded"
    d.mkdir()
    _weights(d / "a.safetensors")
    (d / "config.json").write_text("{}")
    (d / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"fc.weight": "a.safetensors"}}))
    want = [d / "model.safetensors.index.json", d / "a.safetensors", d / "config.json"]
    assert model_input_files(d) == want
    with open_source(d / "model.safetensors.index.json") as src:
        assert input_files(src) == want
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 2, "lora_alpha": 4}))
    rng = np.random.default_rng(0)
    save_file(
        {
            "base_model.model.fc.lora_A.weight": rng.standard_normal((2, 32)).astype(np.float32),
            "base_model.model.fc.lora_B.weight": rng.standard_normal((64, 2)).astype(np.float32),
        },
        str(adapter / "adapter_model.safetensors"),
    )
    from netspectra.io.sources import open_adapter

    with open_adapter(adapter, d) as src:
        found = input_files(src)
    assert len(found) == len(set(found)) == 5
    assert set(found) == {adapter / "adapter_model.safetensors", adapter / "adapter_config.json", *want}


def test_links_inside_a_training_run_folder_are_followed(tmp_path):
    """``checkpoint-best -> checkpoint-2`` inside the run's folder is the run's own layout (issue 25 refuses
    only links out of it)."""
    from netspectra.compare.checkpoints import find_checkpoints

    run = tmp_path / "run"
    for step in (1, 2):
        (run / f"checkpoint-{step}").mkdir(parents=True)
        _weights(run / f"checkpoint-{step}" / "model.safetensors", step)
    (run / "checkpoint-3").symlink_to("checkpoint-2")
    (run / "step_4.safetensors").symlink_to(run / "checkpoint-1" / "model.safetensors")
    assert [c.step for c in find_checkpoints([run])] == [1, 2, 3, 4]


def test_merge_refuses_an_output_that_is_a_link_before_creating_anything(tmp_path):
    from netspectra.merge.output import check_output_dir

    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / "out").symlink_to(target)
    with pytest.raises(UsageError, match="symbolic link"):
        check_output_dir(tmp_path / "out")
