"""Factored outputs of ``compress`` (issue 26, item 4): a sidecar ``m.json`` that lies about ``m.safetensors``.

The file holds ``fc.weight.A`` (64 x 4) and ``fc.weight.B`` (4 x 48), its metadata says factored, and its
sidecar says how they rebuild ``fc.weight`` (64 x 48).  Each lie (a shape, a rank, a factor that does not
exist, a claim of 10^9 x 10^9, a dtype, another file's sidecar, a factor serving twice) used to be read as
two separate layers ``fc.weight.A`` and ``fc.weight.B``; now it is one line naming the sidecar.  The honest
file reads as the one 64 x 48 layer, and its sidecar is an input no output may overwrite.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from round3 import Case, Outcome

#: The sidecar of the honest file, as compress writes it.
HONEST = {
    "format": "netspectra-factored",
    "version": 1,
    "weights": "m.safetensors",
    "factored": {"fc.weight": {"A": "fc.weight.A", "B": "fc.weight.B", "shape": [64, 48], "dtype": "F32", "rank": 4}},
}


def _factored(folder: Path, sidecar: dict | None, extra: dict[str, np.ndarray] | None = None) -> None:
    rng = np.random.default_rng(0)
    tensors = {
        "fc.weight.A": rng.standard_normal((64, 4)).astype(np.float32),
        "fc.weight.B": rng.standard_normal((4, 48)).astype(np.float32),
        "fc.bias": np.zeros(64, np.float32),
        **(extra or {}),
    }
    metadata = {"format": "pt", "netspectra": json.dumps({"method": "rank:4", "shrink": "hard", "factored": True})}
    save_file(tensors, str(folder / "m.safetensors"), metadata=metadata)
    if sidecar is not None:
        (folder / "m.json").write_text(json.dumps(sidecar))


def _lie(change: Callable[[dict], None], extra: dict[str, np.ndarray] | None = None) -> Callable[[Path], Sequence[str]]:
    def build(folder: Path) -> Sequence[str]:
        document = json.loads(json.dumps(HONEST))
        change(document)
        _factored(folder, document, extra)
        return ["analyze", "m.safetensors", "--quiet"]

    return build


def _entry(**values: object) -> Callable[[dict], None]:
    def change(document: dict) -> None:
        document["factored"]["fc.weight"].update(values)

    return change


def _no_sidecar(folder: Path) -> Sequence[str]:
    _factored(folder, None)
    return ["analyze", "m.safetensors", "--quiet"]


def _honest(folder: Path) -> Sequence[str]:
    _factored(folder, HONEST)
    return ["analyze", "m.safetensors", "--json"]


def _one_layer(folder: Path, outcome: Outcome) -> None:
    layers = json.loads(outcome.stdout)["layers"]
    assert [(row["name"], row["N"], row["M"]) for row in layers] == [("fc.weight", 64, 48)], layers


def _report_on_sidecar(folder: Path) -> Sequence[str]:
    _factored(folder, HONEST)
    return ["analyze", "m.safetensors", "-o", "m.json", "--quiet"]


def _sidecar_kept(folder: Path, outcome: Outcome) -> None:
    assert json.loads((folder / "m.json").read_text()) == HONEST, "the sidecar was overwritten"


def _twice(document: dict) -> None:
    document["factored"]["other.weight"] = {"A": "fc.weight.A", "B": "fc.weight.B", "shape": [64, 48], "dtype": "F32", "rank": 4}


_SIDE = r"m\.json: "

CASES = [
    Case("metadata says factored, no sidecar", _no_sidecar, match=r"m\.safetensors: .*without its sidecar m\.json"),
    Case("shape 64 x 47", _lie(_entry(shape=[64, 47])), match=_SIDE + r".*claims shape 64 x 47 of rank 4"),
    Case("rank 5 of factors of rank 4", _lie(_entry(rank=5)), match=_SIDE + r".*claims shape 64 x 48 of rank 5"),
    Case("a factor that does not exist", _lie(_entry(B="nowhere")), match=_SIDE + r".*missing from m\.safetensors: nowhere"),
    Case("shape 10^9 x 10^9", _lie(_entry(shape=[10**9, 10**9])), match=_SIDE + r".*claims shape 1000000000 x 1000000000"),
    Case("shape of 4001 digits", _lie(_entry(shape=[10**4000, 48])), match=_SIDE + r".*no valid shape \[R, C\] and rank r"),
    Case("rank -1", _lie(_entry(rank=-1)), match=_SIDE + r".*no valid shape \[R, C\] and rank r"),
    Case("dtype BF16 of F32 factors", _lie(_entry(dtype="BF16")), match=_SIDE + r".*claims dtype BF16"),
    Case(
        "another file's sidecar", _lie(lambda d: d.update(weights="n.safetensors")), match=_SIDE + r"describes 'n\.safetensors'"
    ),
    Case("version 2", _lie(lambda d: d.update(version=2)), match=_SIDE + r"unsupported sidecar version"),
    Case("not a sidecar", _lie(lambda d: d.update(format="other")), match=_SIDE + r"not a netspectra-factored sidecar"),
    Case("a factor serving twice", _lie(_twice), match=_SIDE + r"tensor .fc\.weight\.A. serves as a factor twice"),
    Case(
        "a factored name also stored",
        _lie(lambda d: None, {"fc.weight": np.zeros((64, 48), np.float32)}),
        match=_SIDE + r"'fc\.weight' is both stored whole and listed as factored",
    ),
    Case(
        "a 3-D factor",
        _lie(_entry(A="conv.A"), {"conv.A": np.zeros((64, 4, 1), np.float32)}),
        match=_SIDE + r".*but its factors are 64 x 4 x 1 and 4 x 48",
    ),
    Case("the honest file is one layer", _honest, expect="ok", check=_one_layer),
    Case("a report onto the sidecar", _report_on_sidecar, match="refusing to overwrite an input file", check=_sidecar_kept),
]
