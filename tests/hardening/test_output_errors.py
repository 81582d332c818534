"""Names from the model file in figures and file names, and outputs that cannot be written (issue 19).

A tensor named ``$\\frac{$`` made matplotlib raise; a 300-character name made ``--plots`` fail with
ENAMETOOLONG; a full or read-only disk and an existing directory as ``-o`` ended in OSError
tracebacks, and ``--plots`` left a partial folder behind on ENOSPC.  Each now ends in one line and exit
2 with nothing partial left, or works.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from netspectra import atomic
from netspectra.cli import main
from netspectra.errors import OutputError
from netspectra.report.names import display_name, shortened
from netspectra.report.render import FILENAME_CHARS, safe_filename

HOSTILE_NAMES = ("$\\frac{$.weight", "a" * 300 + ".weight", "b" * 300 + ".weight", "esc\x1b[31mred.weight")


@pytest.fixture()
def hostile_model(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "m.safetensors"
    save_file({name: rng.standard_normal((40, 30)).astype(np.float32) for name in HOSTILE_NAMES}, str(path))
    return path


@pytest.mark.slow
def test_plots_of_layers_with_hostile_names(hostile_model, tmp_path, capsys):
    """Mathtext, control characters and 300-character names: every figure is written, file names stay
    under the 255-byte limit and the two long names get two different files."""
    plots = tmp_path / "plots"
    assert main(["analyze", str(hostile_model), "--plots", str(plots), "--quiet"]) == 0
    names = sorted(p.name for p in plots.iterdir())
    assert len(names) == 1 + 3 * len(HOSTILE_NAMES)
    assert max(len(n.encode()) for n in names) < 255
    assert len({n.rsplit("_", 1)[0] for n in names if n.startswith(("1_", "2_"))}) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_safe_filename_and_display_name_bounds():
    long_a, long_b = "x" * 500 + "a", "x" * 500 + "b"
    assert safe_filename(long_a) != safe_filename(long_b)
    assert len(safe_filename(long_a)) == FILENAME_CHARS
    assert safe_filename("encoder.layer.0.attn.weight") == "encoder.layer.0.attn"
    assert display_name("esc\x1b[0m") == "esc\\x1b[0m"
    assert shortened("abcdefghij", 5) == "ab…ij" and len(shortened("z" * 1000)) == 80


def test_output_that_is_a_directory_is_refused_before_the_analysis(hostile_model, tmp_path, capsys):
    out = tmp_path / "out.csv"
    out.mkdir()
    assert main(["analyze", str(hostile_model), "-o", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "is a directory" in err and err.count("\n") == 1


def _fail_with(error: int):
    def write(_tmp: Path) -> None:
        raise OSError(error, os.strerror(error))

    return write


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EDQUOT, errno.EROFS])
def test_atomic_write_turns_disk_errors_into_one_line_and_leaves_nothing(tmp_path, error):
    out = tmp_path / "out.json"
    with pytest.raises(OutputError, match=f"out.json: cannot write: {os.strerror(error)}"):
        atomic.atomic_write(out, _fail_with(error))
    assert list(tmp_path.iterdir()) == []


def test_read_only_directory_gives_one_line(hostile_model, tmp_path, monkeypatch, capsys):
    """Simulated (the tests may run as root, whom a read-only mode does not stop)."""

    def refuse(*_args, **_kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    assert main(["analyze", str(hostile_model), "-o", str(tmp_path / "layers.csv"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "layers.csv: cannot write: Permission denied" in err and "Traceback" not in err


@pytest.mark.slow
def test_plots_on_a_full_disk_leave_no_partial_folder(hostile_model, tmp_path, monkeypatch, capsys):
    """The fifth figure meets ENOSPC: the four written before it and the folder created for them go."""
    real_write_bytes = Path.write_bytes
    calls = {"n": 0}

    def fill_up(self: Path, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", fill_up)
    plots = tmp_path / "plots"
    assert main(["analyze", str(hostile_model), "--plots", str(plots), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    assert not plots.exists()


@pytest.mark.slow
def test_plots_into_an_existing_folder_keep_the_users_files(hostile_model, tmp_path, monkeypatch):
    """On failure only the files this run wrote are removed, never the folder the user gave."""
    plots = tmp_path / "plots"
    plots.mkdir()
    (plots / "mine.txt").write_text("keep me")
    monkeypatch.setattr(Path, "write_bytes", lambda self, data: _fail_with(errno.ENOSPC)(self))
    assert main(["analyze", str(hostile_model), "--plots", str(plots), "--quiet"]) == 2
    assert sorted(p.name for p in plots.iterdir()) == ["mine.txt"]


def test_error_lines_never_carry_control_characters(tmp_path, capsys):
    """A name in an error message (here the path itself) reaches stderr escaped, as in the tables."""
    assert main(["analyze", str(tmp_path / "clear\x1b[2J.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "clear\\x1b[2J" in err


def test_composed_multi_line_messages_keep_their_line_breaks(tmp_path, capsys):
    """Escaping names must not escape netspectra's own line breaks: compress and merge-check printed a
    literal "\\n" between their summary lines."""
    rng = np.random.default_rng(3)
    u, v = rng.standard_normal((60, 3)), rng.standard_normal((3, 40))
    path = tmp_path / "c.safetensors"
    save_file({"[bold]x[/bold].weight": (u @ v + 0.1 * rng.standard_normal((60, 40))).astype(np.float32)}, str(path))
    assert main(["compress", str(path), "-o", str(tmp_path / "cc.safetensors")]) == 0
    assert main(["merge-check", str(path), str(path)]) == 0
    out = capsys.readouterr().out
    assert "\\n" not in out and "\nwrote " in out and "\nno --base" in out and "[bold]x[/bold].weight" in out
