"""Seeded mutation fuzzing shared by ``tests/hardening/test_fuzz_*.py``: the mutations, one command-line run
bounded in time (and, optionally, in memory), and the check of a refusal.

Import from a test with ``from fuzzing import ...`` (``pythonpath = ["tests"]`` puts ``tests/`` on sys.path).
"""

from __future__ import annotations

import contextlib
import resource
import signal
from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from netspectra.cli import main


def mutations(data: bytes, rng: np.random.Generator) -> Iterator[tuple[str, bytes]]:
    """Yield (label, mutated bytes): truncations, bit flips, overwritten header bytes, forged lengths."""
    n = len(data)
    yield "empty", b""
    yield "truncated-header", data[: min(8, n)]
    yield "forged-length", (2**62).to_bytes(8, "little") + data[8:]
    while True:
        kind = rng.integers(4)
        if kind == 0:
            cut = int(rng.integers(1, n))
            yield f"truncate@{cut}", data[:cut]
        elif kind == 1:
            buf = bytearray(data)
            for pos in rng.integers(0, n, size=int(rng.integers(1, 8))):
                buf[pos] ^= 1 << int(rng.integers(8))
            yield "bitflip", bytes(buf)
        elif kind == 2:
            buf = bytearray(data)
            start = int(rng.integers(0, min(n, 256)))
            buf[start : start + 8] = rng.integers(0, 256, size=len(buf[start : start + 8]), dtype=np.uint8).tobytes()
            yield f"header@{start}", bytes(buf)
        else:
            pos = int(rng.integers(0, n))
            yield f"insert@{pos}", data[:pos] + rng.bytes(int(rng.integers(1, 32))) + data[pos:]


class CaseTimeout(BaseException):
    """Raised by SIGALRM in a case that runs too long (a BaseException, so that no ``except Exception`` in
    the code under test can turn a hang into an ordinary error)."""


def _on_alarm(signum, frame):
    raise CaseTimeout


def run_cli(argv: Sequence[str], capsys, seconds: int, label: str) -> tuple[int, str]:
    """``netspectra.cli.main(argv)`` under a SIGALRM of ``seconds``: (exit code, captured stderr).

    A hang fails the test; so does any exception that escapes ``main`` (it should have been one line).
    """
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(seconds)
    try:
        code = main([str(a) for a in argv])
    except CaseTimeout:
        pytest.fail(f"{label}: hang (> {seconds} s)")
    except Exception as exc:  # noqa: BLE001 - the point is that nothing escapes main()
        raise AssertionError(f"{label}: {type(exc).__name__} escaped main(): {exc}") from exc
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, capsys.readouterr().err


def check_refusal(code: int, err: str, name: str, label: str) -> None:
    """Exit code 2 and exactly one stderr line ``netspectra: error: ...`` that contains ``name``."""
    assert code == 2, f"{label}: exit {code}: {err!r}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("netspectra: error:"), f"{label}: {err!r}"
    assert name in lines[0], f"{label}: error does not name the file: {lines[0]}"


#: Address space allowed beyond what the process already uses, and peak-RSS growth allowed, per loop.
MEMORY_HEADROOM = 3 << 30
RSS_GROWTH = 1 << 30


def _vm_size() -> int:
    """Virtual memory of this process in bytes (VmSize of /proc/self/status)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmSize in /proc/self/status")


@contextlib.contextmanager
def memory_cap(extra: int) -> Iterator[None]:
    """Limit this process's address space to its current size plus ``extra`` bytes (RLIMIT_AS), so that
    an allocation sized by a forged header fails at once instead of exhausting the machine."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _vm_size() + extra
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def peak_rss() -> int:
    """Peak resident memory of this process so far, in bytes (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def structured_attacks(yaml_too: bool) -> Iterator[tuple[str, bytes | str]]:
    """Structured attacks on a JSON (and, with ``yaml_too``, YAML) input, beside the byte mutations above:
    ``(label, content)``, where content is the file's bytes, or ``"fifo"``/``"device"``/``"directory"``
    for a special file to put at its path.

    Nesting (100k deep, and one level past the reader's limit), width (3M values), aliasing (a billion
    laughs, a container inside itself), huge integers (past float range, past Python's 4300 digits),
    non-finite numbers, and special files.
    """
    deep = 100_000
    yield "json nested lists 100k", b"[" * deep + b"]" * deep
    yield "json nested objects 100k", b'{"a":' * deep + b"1" + b"}" * deep
    yield "json nested 65", b'{"models":' + b"[" * 65 + b"]" * 65 + b"}"
    yield "json 3M values", b'{"models": [' + b",".join([b"0"] * 3_000_000) + b"]}"
    yield "json integer past float", b'{"models": [{"path": "x", "weight": 1' + b"0" * 400 + b"}]}"
    yield "json integer of 5000 digits", b'{"models": [{"path": "x", "weight": 1' + b"0" * 5000 + b"}]}"
    yield "json NaN", b'{"models": [{"path": "x", "weight": NaN}], "parameters": {"scale": Infinity}}'
    yield "fifo", "fifo"
    yield "device", "device"
    yield "directory", "directory"
    if not yaml_too:
        return
    yield "yaml nested 100k", b"models: " + b"[" * deep + b"]" * deep + b"\n"
    laughs = b"l0: &l0 [x, x, x, x, x, x, x, x, x]\n" + b"".join(
        b"l%d: &l%d [%s]\n" % (i, i, b", ".join([b"*l%d" % (i - 1)] * 9)) for i in range(1, 10)
    )
    yield "yaml billion laughs", laughs + b"models: *l9\n"
    yield "yaml self-reference", b"models: &m [x, *m]\n"
    yield "yaml integer of 5000 digits", b"models: [{path: x, weight: 1" + b"0" * 5000 + b"}]\n"
    yield "yaml .inf weight", b"models: [{path: x, weight: .inf}]\nmethod: linear\n"


def place_attack(path, content: bytes | str) -> None:
    """Write one :func:`structured_attacks` case at ``path`` (replacing what is there)."""
    import os
    import shutil

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):  # a file, a FIFO or a link
        path.unlink()
    if content == "fifo":
        os.mkfifo(path)
    elif content == "device":
        path.symlink_to("/dev/zero")
    elif content == "directory":
        path.mkdir()
    else:
        path.write_bytes(content)
