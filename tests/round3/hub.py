"""A hostile Hugging Face cache: refs and snapshots that lead out of the cache, refs that never end.

The cache is ``folder/hub`` (``HF_HUB_CACHE=hub``), the repository ``org/tiny``; the sentinel model is
``folder/outside``.  Each attack used to make ``analyze`` or ``compare`` exit 0 with the sentinel's
tensor as a row, hang (a FIFO), or read until MemoryError (a link to /dev/zero).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from round3 import Case
from round3._sentinel import nothing_outside, outside_model, write_model

COMMIT = "0123456789abcdef0123456789abcdef01234567"
ENV = {"HF_HUB_CACHE": "hub"}


def _repo(folder: Path, cache: str = "hub") -> Path:
    """``models--org--tiny`` with a complete snapshot ``COMMIT`` (weights in blobs/) and no refs yet."""
    repo = folder / cache / "models--org--tiny"
    write_model(repo / "blobs" / "b1")
    (repo / "refs").mkdir(parents=True)
    (repo / "snapshots" / COMMIT).mkdir(parents=True)
    (repo / "snapshots" / COMMIT / "model.safetensors").symlink_to("../../blobs/b1")
    return repo


def _ref_holds(text: Callable[[Path], str], argv: Sequence[str] = ("analyze", "org/tiny", "--quiet")) -> Callable:
    def build(folder: Path) -> Sequence[str]:
        outside_model(folder)
        (_repo(folder) / "refs" / "main").write_text(text(folder))
        return argv

    return build


def _ref_dot_dot_only(folder: Path) -> Sequence[str]:
    """``../../..`` from snapshots/ is the folder above the cache: the cache sits in the sentinel's folder."""
    outside_model(folder)
    (_repo(folder, "outside/hub") / "refs" / "main").write_text("../../..")
    return ["analyze", "org/tiny", "--quiet"]


def _snapshot_link(folder: Path) -> Sequence[str]:
    outside = outside_model(folder)
    repo = _repo(folder)
    (repo / "refs" / "main").write_text(COMMIT)
    (repo / "snapshots" / ("f" * 40)).symlink_to(outside)
    return ["analyze", f"org/tiny@{'f' * 40}", "--quiet"]


def _snapshot_of_main_links_out(folder: Path) -> Sequence[str]:
    outside = outside_model(folder)
    repo = _repo(folder)
    (repo / "refs" / "main").write_text("e" * 40)
    (repo / "snapshots" / ("e" * 40)).symlink_to(outside)
    return ["analyze", "org/tiny", "--quiet"]


def _absolute_revision(folder: Path) -> Sequence[str]:
    """The revision is an absolute path: the ref file read is that path, which leads out."""
    outside_model(folder)
    (_repo(folder) / "refs" / "main").write_text(COMMIT)
    ref = folder / "outside" / "ref"
    ref.write_text("../../../outside")
    return ["analyze", f"org/tiny@{ref}", "--quiet"]


def _repo_link(folder: Path) -> Sequence[str]:
    """The repository folder of the cache links to a cache-like folder elsewhere."""
    elsewhere = folder / "outside" / "models--org--tiny"
    write_model(elsewhere / "snapshots" / COMMIT / "model.safetensors", 7, "outside_secret.weight")
    (elsewhere / "refs").mkdir()
    (elsewhere / "refs" / "main").write_text(COMMIT)
    (folder / "hub").mkdir()
    (folder / "hub" / "models--org--tiny").symlink_to(elsewhere)
    return ["analyze", "org/tiny", "--quiet"]


def _ref_fifo(folder: Path) -> Sequence[str]:
    os.mkfifo(_repo(folder) / "refs" / "main")
    return ["analyze", "org/tiny", "--quiet"]


def _ref_dev_zero(folder: Path) -> Sequence[str]:
    (_repo(folder) / "refs" / "main").symlink_to("/dev/zero")
    return ["analyze", "org/tiny", "--quiet"]


def _ref_huge(folder: Path) -> Sequence[str]:
    """A 64 MB regular file as refs/main: read no further than a ref can be long."""
    with open(_repo(folder) / "refs" / "main", "wb") as f:
        f.truncate(64 << 20)
    return ["analyze", "org/tiny", "--quiet"]


def _ref_names_a_ref_outside(folder: Path) -> Sequence[str]:
    """refs/main links to a file holding a valid commit, outside refs/ (the cache's own refs only)."""
    repo = _repo(folder)
    (folder / "outside").mkdir()
    (folder / "outside" / "ref").write_text(COMMIT)
    (repo / "refs" / "main").symlink_to(folder / "outside" / "ref")
    return ["analyze", "org/tiny", "--quiet"]


def _compare(folder: Path) -> Sequence[str]:
    outside_model(folder)
    (_repo(folder) / "refs" / "main").write_text("../../../outside")
    write_model(folder / "local.safetensors")
    return ["compare", "local.safetensors", "org/tiny", "--json"]


def _named_file(name: str, link_out: bool = False) -> Callable[[Path], Sequence[str]]:
    """``org/tiny:NAME`` (issue 26, item 7); with ``link_out`` the snapshot's ``leak.safetensors`` links to the
    sentinel model."""

    def build(folder: Path) -> Sequence[str]:
        outside = outside_model(folder)
        repo = _repo(folder)
        (repo / "refs" / "main").write_text(COMMIT)
        if link_out:
            (repo / "snapshots" / COMMIT / "leak.safetensors").symlink_to(outside / "model.safetensors")
        return ["analyze", f"org/tiny:{name}", "--quiet"]

    return build


_ESCAPES = "links to a (file|folder) outside"

CASES = [
    Case(
        "refs/main holds ../../..",
        _ref_dot_dot_only,
        match="refs/main",
        check=nothing_outside,
        env={"HF_HUB_CACHE": "outside/hub"},
    ),
    Case(
        "refs/main holds ../../../outside",
        _ref_holds(lambda folder: "../../../outside"),
        match="refs/main",
        check=nothing_outside,
        env=ENV,
    ),
    Case(
        "refs/main holds an absolute path",
        _ref_holds(lambda folder: os.fspath(folder / "outside")),
        match="refs/main",
        check=nothing_outside,
        env=ENV,
    ),
    Case("snapshots/REV links out (revision given)", _snapshot_link, match=_ESCAPES, check=nothing_outside, env=ENV),
    Case("snapshots/REV of refs/main links out", _snapshot_of_main_links_out, match=_ESCAPES, check=nothing_outside, env=ENV),
    Case(
        "revision given as an absolute path", _absolute_revision, match="is a path, not a branch", check=nothing_outside, env=ENV
    ),
    Case("repository folder links out of the cache", _repo_link, match=_ESCAPES, check=nothing_outside, env=ENV),
    Case("refs/main is a FIFO", _ref_fifo, match="not a regular file", env=ENV),
    Case("refs/main links to /dev/zero", _ref_dev_zero, match=_ESCAPES, env=ENV),
    Case("refs/main is 64 MB", _ref_huge, match="refs/main", env=ENV),
    Case("refs/main links to a ref outside refs/", _ref_names_a_ref_outside, match=_ESCAPES, env=ENV),
    Case("compare with refs/main leading out", _compare, match="refs/main", check=nothing_outside, env=ENV),
    Case(
        "a named file climbing out of the snapshot",
        _named_file("../../../../outside/model.safetensors"),
        match="escapes the model directory",
        check=nothing_outside,
        env=ENV,
    ),
    Case("a named file by absolute path", _named_file("/etc/passwd"), match="absolute path outside", env=ENV),
    Case(
        "a named file linking out of the repository",
        _named_file("leak.safetensors", link_out=True),
        match=_ESCAPES,
        check=nothing_outside,
        env=ENV,
    ),
    Case("a named file of the snapshot", _named_file("model.safetensors"), expect="ok", check=nothing_outside, env=ENV),
]
