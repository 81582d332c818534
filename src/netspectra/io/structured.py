"""One bounded reader for every structured file netspectra reads: JSON and YAML.

``config.json``, shard indexes, factored-model sidecars and merge configurations come from the same
places as the weights (a download, somebody's folder), so each is read under the same limits before
anything walks it:

* a regular file, checked before it is opened and again on the open descriptor (a FIFO would block
  the read forever, ``/dev/zero`` never ends), of at most ``max_bytes``;
* parsed without recursion errors escaping: nesting 100k deep ends in one line;
* at most :data:`MAX_DEPTH` levels and :data:`MAX_NODES` values *counted with YAML aliases expanded*
  (an alias bomb of 9 anchors of 9 references each is 387M values in 300 bytes), and no container
  that contains itself.

Every failure raises the caller's error class (``SourceError`` for a model's files, ``UsageError`` for
a merge configuration) with one line naming the file.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from ..errors import NetspectraError, one_line

#: Deepest nesting accepted (a merge configuration needs 4 levels, a model's config.json about 5).
MAX_DEPTH = 64
#: Most values (containers and scalars, aliases expanded) in one document; a 100k-tensor shard index
#: has about 200k.
MAX_NODES = 2_000_000


def read_bounded(path: Path, label: str, what: str, error: type[NetspectraError], max_bytes: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes`` bytes."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # before opening: opening a FIFO blocks
            raise error(f"{label}: {what} is not a regular file")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # replaced by a FIFO meanwhile: no block
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise error(f"{label}: {what} is not a regular file")
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"{label}: cannot read the {what}: {exc.strerror or one_line(exc)}") from None
    if len(data) > max_bytes:
        raise error(f"{label}: {what} is larger than {max_bytes:,} bytes")
    return data


def check_tree(document: object, label: str, what: str, error: type[NetspectraError]) -> None:
    """Refuse a parsed document deeper than :data:`MAX_DEPTH`, larger than :data:`MAX_NODES` values
    once shared containers (YAML aliases) are expanded, or holding a container inside itself.

    One iterative post-order walk; a container shared many times is walked once, its expanded size
    and height remembered.
    """
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    open_now: set[int] = set()
    stack: list[tuple[object, list | None]] = [(document, None)]  # (node, its children once entered)
    while stack:
        node, children = stack.pop()
        if not isinstance(node, (dict, list, tuple)):
            continue
        key = id(node)
        if children is not None:  # every child is done: the node's expanded size and height
            open_now.discard(key)
            nested = [c for c in children if isinstance(c, (dict, list, tuple))]
            size[key] = 1 + len(children) - len(nested) + sum(size[id(c)] for c in nested)
            height[key] = 1 + max((height[id(c)] for c in nested), default=0)
            if size[key] > MAX_NODES:
                raise error(f"{label}: {what} holds more than {MAX_NODES:,} values (aliases expanded): refused")
            if height[key] > MAX_DEPTH:
                raise error(f"{label}: {what} is nested deeper than {MAX_DEPTH} levels: refused")
            continue
        if key in size:
            continue
        if key in open_now:
            raise error(f"{label}: {what} holds a container inside itself: refused")
        open_now.add(key)
        children = list(node.values()) if isinstance(node, dict) else list(node)
        stack.append((node, children))
        stack.extend((child, None) for child in children)


def parse_json(data: bytes, label: str, what: str, error: type[NetspectraError]) -> object:
    """JSON ``data`` parsed and checked by :func:`check_tree`."""
    try:
        document = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise error(f"{label}: {what} is nested too deeply to parse: refused") from None
    except (UnicodeDecodeError, ValueError) as exc:  # ValueError includes integers over 4300 digits
        raise error(f"{label}: invalid {what}: {one_line(exc)}") from None
    check_tree(document, label, what, error)
    return document


def parse_yaml(data: bytes, label: str, what: str, error: type[NetspectraError]) -> object:
    """YAML ``data`` parsed by PyYAML's safe loader and checked by :func:`check_tree`."""
    try:
        import yaml
    except ImportError:
        raise error(f"{label}: reading YAML needs PyYAML (pip install pyyaml), or give a .json file") from None
    try:
        document = yaml.safe_load(data.decode("utf-8"))
    except RecursionError:
        raise error(f"{label}: {what} is nested too deeply to parse: refused") from None
    except yaml.YAMLError as exc:
        raise error(f"{label}: invalid YAML: {' '.join(str(exc).split())}") from None
    except (UnicodeDecodeError, ValueError, OverflowError) as exc:  # an integer over 4300 digits
        raise error(f"{label}: invalid {what}: {one_line(exc)}") from None
    check_tree(document, label, what, error)
    return document


def read_json_file(path: Path, label: str, what: str, error: type[NetspectraError], max_bytes: int) -> object:
    """:func:`read_bounded` then :func:`parse_json`."""
    return parse_json(read_bounded(path, label, what, error, max_bytes), label, what, error)
