"""Hostile files for the readers of issue 26 (item 8): MLX quantized checkpoints, compressed-tensors
checkpoints, Keras ``.keras`` / ``.weights.h5`` / legacy ``.h5``.

Each file is what its format writes with one field forged: a Keras HDF5 file whose dataset lives in an
external file (a private file, read as weights), behind an external, soft or virtual link, declares 10 GB
in no storage, needs a third-party filter, nests or loops forever, or names paths out of its group; a
``.keras`` archive whose member is compressed, lies about its size or is cut short; MLX and
compressed-tensors configs with bit widths, group sizes and shapes their parts cannot hold, and a target
regex that backtracks for ever.  Each must end in one line naming the file, exit 2, with nothing outside
read.
"""

from __future__ import annotations

import csv
import json
import struct
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from round3 import Case
from round3._sentinel import SECRET_TEXT, nothing_outside, secret_file

ANALYZE = ("analyze", "{model}", "-o", "out.csv", "--quiet")


def _argv(model: str) -> list[str]:
    return [part.format(model=model) for part in ANALYZE]


# ----------------------------------------------------------------------------------------------- Keras


def _h5py():
    import h5py

    return h5py


def _keras3(path: Path, kernel: object = None) -> object:
    """A Keras 3 ``.weights.h5`` with one Dense layer; ``kernel`` (a callable of the vars group) replaces its kernel."""
    h5py = _h5py()
    f = h5py.File(path, "w")
    variables = f.create_group("layers/dense/vars")
    variables.attrs["name"] = "dense"
    if kernel is None:
        variables.create_dataset("0", data=np.ones((16, 8), np.float32))
    else:
        kernel(variables)
    variables.create_dataset("1", data=np.zeros(8, np.float32))
    f.create_group("vars").attrs["name"] = "model"
    return f


def _kernel(forge: Callable[[object, Path], None]) -> Callable[[Path], Sequence[str]]:
    """A case whose Dense kernel is made by ``forge(vars group, folder)``."""

    def build(folder: Path) -> Sequence[str]:
        _keras3(folder / "model.weights.h5", lambda group: forge(group, folder)).close()
        return _argv("model.weights.h5")

    return build


def _external_storage(group: object, folder: Path) -> None:
    secret = secret_file(folder)
    group.create_dataset("0", shape=(4, 4), dtype="u1", external=[(str(secret), 0, 16)])


def _external_link(group: object, folder: Path) -> None:
    h5py = _h5py()
    (folder / "outside").mkdir(exist_ok=True)
    with h5py.File(folder / "outside" / "other.h5", "w") as other:
        other["secret"] = np.full((16, 8), 7.0, np.float32)
    group["0"] = h5py.ExternalLink(str(folder / "outside" / "other.h5"), "/secret")


def _soft_link(group: object, folder: Path) -> None:
    h5py = _h5py()
    group.file["elsewhere"] = np.ones((16, 8), np.float32)
    group["0"] = h5py.SoftLink("/elsewhere")


def _virtual(group: object, folder: Path) -> None:
    h5py = _h5py()
    (folder / "outside").mkdir(exist_ok=True)
    with h5py.File(folder / "outside" / "source.h5", "w") as other:
        other["secret"] = np.full((16, 8), 7.0, np.float32)
    layout = h5py.VirtualLayout(shape=(16, 8), dtype="f4")
    layout[:] = h5py.VirtualSource(str(folder / "outside" / "source.h5"), "secret", shape=(16, 8))
    group.create_virtual_dataset("0", layout)


def _unwritten_chunks(group: object, folder: Path) -> None:
    group.create_dataset("0", shape=(50_000, 50_000), dtype="f4", chunks=(1000, 1000), compression="gzip")


def _unwritten_contiguous(group: object, folder: Path) -> None:
    group.create_dataset("0", shape=(50_000, 50_000), dtype="f4")


def _unknown_filter(group: object, folder: Path) -> None:
    dataset = group.create_dataset("0", shape=(16, 8), dtype="f4", chunks=(16, 8), compression=32001, allow_unknown_filter=True)
    dataset.id.write_direct_chunk((0, 0), np.ones((16, 8), np.float32).tobytes())


def _compound(group: object, folder: Path) -> None:
    group.create_dataset("0", data=np.zeros((16, 8), dtype=[("a", "f4"), ("b", "i4")]))


def _loop(folder: Path) -> Sequence[str]:
    f = _keras3(folder / "model.weights.h5")
    f["layers/dense/loop"] = f["layers"]  # a hard link to an ancestor
    f.close()
    return _argv("model.weights.h5")


def _deep(folder: Path) -> Sequence[str]:
    f = _keras3(folder / "model.weights.h5")
    group = f["layers/dense"]
    for depth in range(40):
        group = group.create_group(f"level{depth}")
        group.create_group("vars").attrs["name"] = f"level{depth}"
    f.close()
    return _argv("model.weights.h5")


def _name_not_text(folder: Path) -> Sequence[str]:
    f = _keras3(folder / "model.weights.h5")
    f["layers/dense/vars"].attrs["name"] = np.arange(4)
    f.close()
    return _argv("model.weights.h5")


def _legacy(folder: Path, weight_names: list[bytes], layer_names: object = None) -> Path:
    h5py = _h5py()
    path = folder / "legacy.h5"
    with h5py.File(path, "w") as f:
        f["dense/dense/kernel:0"] = np.ones((16, 8), np.float32)
        f["elsewhere"] = np.ones((16, 8), np.float32)
        f.attrs["layer_names"] = [b"dense"] if layer_names is None else layer_names
        f["dense"].attrs["weight_names"] = weight_names
    return path


def _legacy_case(weight_names: list[bytes], layer_names: object = None) -> Callable[[Path], Sequence[str]]:
    def build(folder: Path) -> Sequence[str]:
        _legacy(folder, weight_names, layer_names)
        return _argv("legacy.h5")

    return build


def _legacy_huge_weight_names(folder: Path) -> Sequence[str]:
    """300,000 weight names of 16 bytes: an attribute in dense storage (HDF5 1.8+), outside the object header."""
    with _h5py().File(folder / "legacy.h5", "w", libver="latest") as f:
        f["dense/dense/kernel:0"] = np.ones((16, 8), np.float32)
        f.attrs["layer_names"] = [b"dense"]
        f["dense"].attrs.create("weight_names", np.full(300_000, b"dense/kernel:0", dtype="S16"))
    return _argv("legacy.h5")


def _legacy_bad_config(folder: Path) -> Sequence[str]:
    _legacy(folder, [b"dense/kernel:0"])
    h5py = _h5py()
    with h5py.File(folder / "legacy.h5", "a") as f:
        f.attrs["model_config"] = b'{"class_name": "Functional", "config": ' + b"[" * 100_000
    return _argv("legacy.h5")


def _bytes(name: str, data: bytes) -> Callable[[Path], Sequence[str]]:
    def build(folder: Path) -> Sequence[str]:
        (folder / name).write_bytes(data)
        return _argv(name)

    return build


def _truncated_h5(folder: Path) -> Sequence[str]:
    _keras3(folder / "full.weights.h5").close()
    data = (folder / "full.weights.h5").read_bytes()
    (folder / "model.weights.h5").write_bytes(data[: len(data) // 2])
    return _argv("model.weights.h5")


def _not_keras(folder: Path) -> Sequence[str]:
    with _h5py().File(folder / "data.h5", "w") as f:
        f["data"] = np.ones((16, 8), np.float32)
    return _argv("data.h5")


def _archive(folder: Path, compression: int = zipfile.ZIP_STORED) -> Path:
    _keras3(folder / "model.weights.h5").close()
    path = folder / "model.keras"
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {"name": "model", "layers": []}}))
        archive.write(folder / "model.weights.h5", "model.weights.h5")
    (folder / "model.weights.h5").unlink()
    return path


def _archive_compressed(folder: Path) -> Sequence[str]:
    _archive(folder, zipfile.ZIP_DEFLATED)
    return _argv("model.keras")


def _archive_size_lies(folder: Path) -> Sequence[str]:
    """The weights member claims 4 GB (central directory and local header)."""
    path = _archive(folder)
    data = bytearray(path.read_bytes())
    for signature, field in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            name_length = struct.unpack_from("<H", data, start + (28 if signature == b"PK\x01\x02" else 26))[0]
            name_at = start + (46 if signature == b"PK\x01\x02" else 30)
            if data[name_at : name_at + name_length] == b"model.weights.h5":
                struct.pack_into("<I", data, start + field, 0xFFFFFFF0)
            start += 4
    path.write_bytes(bytes(data))
    return _argv("model.keras")


def _archive_cut(folder: Path) -> Sequence[str]:
    path = _archive(folder)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 200])
    return _argv("model.keras")


def _archive_without_weights(folder: Path) -> Sequence[str]:
    with zipfile.ZipFile(folder / "model.keras", "w") as archive:
        archive.writestr("config.json", "{}")
    return _argv("model.keras")


# ------------------------------------------------------------------------------------- MLX, compressed-tensors


def _words(rows: int, cols: int, bits: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 2**32, (rows, cols * bits // 32), dtype=np.uint32)


def _mlx(quantization: object, **parts: np.ndarray | None) -> Callable[[Path], Sequence[str]]:
    def build(folder: Path) -> Sequence[str]:
        tensors = {"weight": _words(16, 128, 4), "scales": np.ones((16, 2), np.float16), "biases": np.zeros((16, 2), np.float16)}
        tensors |= parts
        (folder / "m").mkdir()
        save_file({f"layer.{k}": v for k, v in tensors.items() if v is not None}, str(folder / "m" / "model.safetensors"))
        (folder / "m" / "config.json").write_text(json.dumps({"quantization": quantization}))
        return _argv("m")

    return build


def _ct(
    groups: object = None, module: str = "layer", extra: dict | None = None, **parts: np.ndarray
) -> Callable[[Path], Sequence[str]]:
    def build(folder: Path) -> Sequence[str]:
        tensors = {"weight_packed": _words(16, 128, 4).view(np.int32), "weight_scale": np.ones((16, 4), np.float32)}
        tensors |= {"weight_shape": np.array([16, 128])} | parts
        weights = {"num_bits": 4, "type": "int", "symmetric": True, "strategy": "group", "group_size": 32}
        config = {
            "quant_method": "compressed-tensors",
            "format": "pack-quantized",
            "config_groups": {"g": {"targets": ["Linear"], "weights": weights}} if groups is None else groups,
        } | (extra or {})
        (folder / "m").mkdir()
        save_file({f"{module}.{k}": v for k, v in tensors.items()}, str(folder / "m" / "model.safetensors"))
        (folder / "m" / "config.json").write_text(json.dumps({"quantization_config": config}))
        return _argv("m")

    return build


def _ct_args(**weights: object) -> dict:
    args = {"num_bits": 4, "type": "int", "symmetric": True, "strategy": "group", "group_size": 32} | weights
    return {"g": {"targets": ["Linear"], "weights": args}}


def _rows(folder: Path) -> dict[str, dict[str, str]]:
    with open(folder / "out.csv", newline="") as f:
        return {row["name"]: row for row in csv.DictReader(f)}


def _one_dense_row(folder: Path, outcome: object) -> None:
    rows = _rows(folder)
    assert list(rows) == ["dense/kernel"], list(rows)


def _dtype_error_row(folder: Path, outcome: object) -> None:
    row = _rows(folder)["dense/kernel"]
    assert row["status"] == "error" and "unsupported dtype" in row["warning"], row


def _default_scheme(folder: Path, outcome: object) -> None:
    assert _rows(folder)["layer.weight"]["dtype"] == "MLX-int4"


def _secret_not_shown(folder: Path, outcome: object) -> None:
    nothing_outside(folder, outcome)
    assert SECRET_TEXT not in outcome.stderr


CASES = [
    # Keras HDF5: where the data is
    Case(
        "keras: a kernel stored in an external file (a private file)",
        _kernel(_external_storage),
        match=r"external file: refused",
        check=_secret_not_shown,
    ),
    Case(
        "keras: a kernel behind an external link to another HDF5 file",
        _kernel(_external_link),
        match=r"ExternalLink; only hard links",
        check=nothing_outside,
    ),
    Case("keras: a kernel behind a soft link", _kernel(_soft_link), match=r"SoftLink; only hard links"),
    Case("keras: a virtual dataset mapping another file", _kernel(_virtual), match=r"virtual dataset", check=nothing_outside),
    Case(
        "keras: 10 GB of unwritten gzip chunks declared",
        _kernel(_unwritten_chunks),
        match=r"declares 10,000,000,000 bytes in 0 bytes",
    ),
    Case(
        "keras: 10 GB contiguous dataset never written",
        _kernel(_unwritten_contiguous),
        match=r"declares 10,000,000,000 bytes in 0 bytes",
    ),
    Case(
        "keras: a third-party filter (Blosc, 32001)",
        _kernel(_unknown_filter),
        match=r"filter 32001, which is not one of HDF5's own",
    ),
    # Keras HDF5: structure
    Case("keras: a group hard-linked into itself", _loop, expect="ok", check=_one_dense_row),
    Case("keras: layers nested 40 deep", _deep, match=r"more than 200,000 groups or 32 levels"),
    Case("keras: a layer name that is not text", _name_not_text, match=r"name is not text"),
    Case("keras: a compound-dtype kernel", _kernel(_compound), expect="ok", check=_dtype_error_row),
    Case(
        "keras legacy: weight_names climbing out with ..", _legacy_case([b"../elsewhere"]), match=r"invalid path '\.\./elsewhere'"
    ),
    Case("keras legacy: an absolute weight name", _legacy_case([b"/elsewhere"]), match=r"invalid path '/elsewhere'"),
    Case(
        "keras legacy: layer_names of numbers",
        _legacy_case([b"dense/kernel:0"], np.arange(3)),
        match=r"layer_names is not a list of names",
    ),
    Case(
        "keras legacy: 4.8 MB of weight_names",
        _legacy_huge_weight_names,
        match=r"attribute 'weight_names' of /dense holds 4,800,000 bytes",
    ),
    Case("keras legacy: model_config nested 100,000 deep", _legacy_bad_config, match=r"model_config"),
    # Keras files that are not what they say
    Case("keras: an empty .h5", _bytes("model.weights.h5", b""), match=r"not a readable HDF5 file"),
    Case("keras: random bytes named .h5", _bytes("model.h5", bytes(range(256)) * 64), match=r"not a readable HDF5 file"),
    Case("keras: a .weights.h5 cut in half", _truncated_h5, match=r"model.weights.h5: not a readable HDF5 file"),
    Case("keras: an HDF5 file that is not Keras", _not_keras, match=r"not a Keras weights file"),
    Case("keras: an empty .keras", _bytes("model.keras", b""), match=r"not a readable Keras archive"),
    Case("keras: .keras with a deflated model.weights.h5", _archive_compressed, match=r"is compressed \(Keras stores it as is\)"),
    Case("keras: .keras whose weights member claims 4 GB", _archive_size_lies, match=r"forged or corrupt archive member"),
    Case("keras: .keras cut short", _archive_cut, match=r"not a readable Keras archive"),
    Case("keras: .keras without weights", _archive_without_weights, match=r"no model.weights.h5"),
    # MLX
    Case("mlx: bits 7", _mlx({"group_size": 64, "bits": 7}), match=r"quantization.bits = 7: must be one of"),
    Case("mlx: group_size 10**20", _mlx({"group_size": 10**20, "bits": 4}), match=r"do not give one scale per group"),
    Case("mlx: group_size 0.5", _mlx({"group_size": 0.5, "bits": 4}), match=r"group_size = 0.5: must be an integer >= 1"),
    Case(
        "mlx: quantization entry not an object",
        _mlx({"group_size": 64, "bits": 4, "layer": [1, 2]}),
        expect="ok",
        check=_default_scheme,
    ),
    Case(
        "mlx: scales for 3 groups of a 2-group row",
        _mlx({"group_size": 64, "bits": 4}, scales=np.ones((16, 3), np.float16)),
        match=r"scales \(16, 3\) do not give one scale",
    ),
    Case(
        "mlx: a packed weight without scales",
        _mlx({"group_size": 64, "bits": 4}, scales=None, biases=None),
        match=r"has no scales",
    ),
    Case(
        "mlx: mxfp4 with float scales",
        _mlx({"mode": "mxfp4"}, biases=None, scales=np.ones((16, 4), np.float16)),
        match=r"mxfp4 scales are U8, not F16",
    ),
    # compressed-tensors
    Case(
        "ct: weight_shape of 10**12 inputs",
        _ct(weight_shape=np.array([16, 10**12])),
        match=r"weight_shape \[16, 1000000000000\] does not fit",
    ),
    Case(
        "ct: weight_shape of a million entries",
        _ct(weight_shape=np.ones(1_000_000, np.int64)),
        match=r"weight_shape of two integers",
    ),
    Case("ct: weight_shape of floats", _ct(weight_shape=np.array([16.0, 128.0])), match=r"weight_shape of two integers"),
    Case("ct: num_bits '4'", _ct(_ct_args(num_bits="4")), match=r"num_bits = '4'"),
    Case("ct: num_bits 64", _ct(_ct_args(num_bits=64)), match=r"num_bits = 64: must be an integer in \[1, 8\]"),
    Case(
        "ct: block_structure [0, 0]", _ct(_ct_args(strategy="block", block_structure=[0, 0])), match=r"block_structure = \[0, 0\]"
    ),
    Case("ct: config_groups a list", _ct([1, 2]), match=r"config_groups = \[1, 2\]: must be an object"),
    Case("ct: a scale grid that does not tile", _ct(weight_scale=np.ones((16, 5), np.float32)), match=r"are not a 16 x 4 grid"),
    Case(
        "ct: zero points of the wrong shape",
        _ct(_ct_args(symmetric=False), weight_zero_point=np.ones((99, 4), np.int32)),
        match=r"weight_zero_point I32 \(99, 4\)",
    ),
    Case(
        "ct: a target regex that backtracks",
        _ct({"g": {"targets": ["re:(a|aa)+$"], "weights": _ct_args()["g"]["weights"]}}, module="a" * 40 + "b"),
        match=r"took over 1.0 s: refused",
    ),
    Case(
        "ct: a sparse-bitmask checkpoint",
        _ct(extra={"sparsity_config": {"format": "sparse-bitmask"}}),
        match=r"sparsity format 'sparse-bitmask' is not supported",
    ),
    Case("ct: a marlin-24 checkpoint", _ct(extra={"format": "marlin-24"}), match=r"format = 'marlin-24'"),
]
