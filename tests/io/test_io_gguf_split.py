"""Split GGUF models (issue 26, item 1): every shard read from the first one or from the folder, or a refusal.

Before, the first shard of a model split in three was read alone, a third of its matrices and exit 0
(SmolLM2 in 3 shards: 78 of 211 matrices), and the folder of the shards had "no recognizable weights".
The shards are written by the gguf package's own ``GGUFWriter``: with ``split_max_tensors`` as a
converter writes them, or one file at a time carrying the ``split.*`` keys by hand for the shards that
lie about their place.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from netspectra.cli import main
from netspectra.errors import SourceError
from netspectra.io import iter_weight_matrices, open_source

gguf = pytest.importorskip("gguf")

BLOCKS, HIDDEN, FFN, VOCAB = 2, 32, 64, 48
MATRICES = 2 + 7 * BLOCKS  # embedding, lm_head and seven projections a block


def tiny_llama() -> dict[str, np.ndarray]:
    """GGUF name -> values (PyTorch order) of a two-block Llama."""
    rng = np.random.default_rng(0)
    shapes = {"token_embd.weight": (VOCAB, HIDDEN), "output_norm.weight": (HIDDEN,), "output.weight": (VOCAB, HIDDEN)}
    for b in range(BLOCKS):
        shapes |= {f"blk.{b}.attn_{p}.weight": (HIDDEN, HIDDEN) for p in ("q", "k", "v", "output")}
        shapes |= {f"blk.{b}.ffn_gate.weight": (FFN, HIDDEN), f"blk.{b}.ffn_up.weight": (FFN, HIDDEN)}
        shapes |= {f"blk.{b}.ffn_down.weight": (HIDDEN, FFN), f"blk.{b}.attn_norm.weight": (HIDDEN,)}
    return {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}


def _add(writer, name: str, value: np.ndarray) -> None:
    if value.ndim == 2:
        q = gguf.GGMLQuantizationType.Q8_0
        writer.add_tensor(name, gguf.quants.quantize(value, q), raw_dtype=q)
    else:
        writer.add_tensor(name, value)


def _close(writer) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def write_model(path, state: dict[str, np.ndarray], split_max_tensors: int = 0) -> None:
    """One file, or shards ``<stem>-0000i-of-0000n.gguf`` of at most ``split_max_tensors`` tensors each."""
    writer = gguf.GGUFWriter(str(path), "llama", split_max_tensors=split_max_tensors)
    writer.add_block_count(BLOCKS)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    for name, value in state.items():
        _add(writer, name, value)
    _close(writer)


def write_shard(path, state: dict[str, np.ndarray], no: int, count: int, total: int) -> None:
    """One shard written by hand with the split keys ``no`` (0-based), ``count`` and ``total`` tensors."""
    writer = gguf.GGUFWriter(str(path), "llama")
    if no == 0:
        writer.add_block_count(BLOCKS)
    writer.add_uint16("split.no", no)
    writer.add_uint16("split.count", count)
    writer.add_int32("split.tensors.count", total)
    for name, value in state.items():
        _add(writer, name, value)
    _close(writer)


def shard(folder, number: int, count: int = 3, prefix: str = "model"):
    return folder / f"{prefix}-{number:05d}-of-{count:05d}.gguf"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("split")
    state = tiny_llama()
    write_model(root / "single.gguf", state)
    (root / "split").mkdir()
    write_model(root / "split" / "model.gguf", state, split_max_tensors=7)  # 19 tensors: 7 + 7 + 5
    return root, state


def _records(source) -> list[tuple[str, tuple[int, ...], str]]:
    return [(r.name, r.shape, r.dtype) for r in source.tensors()]


@pytest.mark.parametrize("where", ["first shard", "folder"])
def test_a_split_model_is_read_whole_from_its_first_shard_or_its_folder(models, where):
    root, _ = models
    folder = root / "split"
    assert sorted(p.name for p in folder.iterdir()) == [shard(folder, n).name for n in (1, 2, 3)]
    single = open_source(root / "single.gguf")
    source = open_source(shard(folder, 1) if where == "first shard" else folder)
    assert _records(source) == _records(single)
    assert [p.name for p in source.files] == [shard(folder, n).name for n in (1, 2, 3)]
    expected = {r.name: r.load() for r in single.tensors()}
    for record in source.tensors():
        np.testing.assert_array_equal(record.load(), expected[record.name], err_msg=record.name)
    assert {r.source for r in source.tensors()} == {str(shard(folder, n)) for n in (1, 2, 3)}
    assert len(list(iter_weight_matrices(source))) == MATRICES


def test_analyze_of_the_first_shard_gives_every_matrix(models, tmp_path):
    root, _ = models
    out = tmp_path / "rows.csv"
    assert main(["analyze", str(shard(root / "split", 1)), "-o", str(out), "--quiet"]) == 0
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == MATRICES and "model.layers.1.mlp.down_proj.weight" in {r["name"] for r in rows}


@pytest.fixture
def copy_of_split(models, tmp_path):
    import shutil

    root, state = models
    shutil.copytree(root / "split", tmp_path / "split")
    return tmp_path / "split", state


@pytest.mark.parametrize("opened", ["first shard", "folder"])
def test_a_missing_shard_is_named(copy_of_split, opened, capsys):
    folder, _ = copy_of_split
    shard(folder, 2).unlink()
    target = shard(folder, 1) if opened == "first shard" else folder
    with pytest.raises(SourceError, match=r"missing.*model-00002-of-00003\.gguf"):
        open_source(target)
    assert main(["analyze", str(target), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model-00002-of-00003.gguf" in err


def test_a_later_shard_is_refused_naming_the_first(copy_of_split):
    folder, _ = copy_of_split
    with pytest.raises(SourceError, match=r"shard 2 of a model split in 3: open its first shard \(model-00001-of-00003\.gguf\)"):
        open_source(shard(folder, 2))


def test_a_first_shard_whose_name_does_not_lead_to_the_others_is_refused(copy_of_split):
    folder, _ = copy_of_split
    shard(folder, 1).rename(folder / "renamed.gguf")
    with pytest.raises(SourceError, match=r"renamed\.gguf: the first of 3 shards .* does not say where the others are"):
        open_source(folder / "renamed.gguf")


def test_every_shard_is_checked_like_a_file_of_its_own(copy_of_split):
    """The header pre-scan runs on each shard: a truncated third shard is named, not read short."""
    folder, _ = copy_of_split
    data = shard(folder, 3).read_bytes()
    shard(folder, 3).write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match=r"model-00003-of-00003\.gguf: tensor .* run past the end of the file"):
        open_source(shard(folder, 1))


def _hand_split(folder, state, *, numbers=(0, 1), total=None, second=None):
    """Two shards written by hand: the first holds the first half of the tensors, the second the rest
    (or ``second``); their split.no are ``numbers``."""
    names = list(state)
    first, rest = {n: state[n] for n in names[:10]}, {n: state[n] for n in names[10:]}
    rest = rest if second is None else second
    count = len(first) + len(rest) if total is None else total
    write_shard(shard(folder, 1, 2), first, numbers[0], 2, count)
    write_shard(shard(folder, 2, 2), rest, numbers[1], 2, count)
    return shard(folder, 1, 2)


def test_hand_written_shards_are_read(tmp_path):
    state = tiny_llama()
    first = _hand_split(tmp_path, state)
    assert [r.name for r in open_source(first).tensors()] == [r.name for r in open_source(tmp_path).tensors()]
    assert len(list(iter_weight_matrices(open_source(first)))) == MATRICES


@pytest.mark.parametrize(
    ("lie", "match"),
    [
        ("numbers", r"model-00002-of-00002\.gguf: its split keys say shard 0 of 2, its place says shard 1 of 2"),
        ("total", r"split\.tensors\.count = 25, the 2 shards hold 19 tensors"),
        ("twice", r"tensor 'token_embd\.weight' is stored in two of the 2 shards"),
    ],
)
def test_shards_that_disagree_with_their_split_keys_are_refused(tmp_path, lie, match):
    state = tiny_llama()
    if lie == "numbers":
        first = _hand_split(tmp_path, state, numbers=(0, 0))
    elif lie == "total":
        first = _hand_split(tmp_path, state, total=25)
    else:
        second = {n: state[n] for n in list(state)[10:]} | {"token_embd.weight": state["token_embd.weight"]}
        first = _hand_split(tmp_path, state, second=second, total=20)
    with pytest.raises(SourceError, match=match):
        open_source(first)
