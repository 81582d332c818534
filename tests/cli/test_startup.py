"""What the command line imports: ``--version`` and ``--help`` nothing heavy, a command only what it uses.

Every command's parser used to be built, with the modules its choices come from (the merge registry, the
results store, rich...), before any command ran: ``netspectra --version`` took 0.44 s, of which 0.36 s of
imports.  These tests read ``sys.modules`` after the command, not the clock.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fixtures_models import write_tiny_mlp_safetensors

_MODULES_AFTER = """
import json, sys
from netspectra import cli
try:
    code = cli.main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _imported(*argv: str) -> tuple[int, set[str]]:
    """Exit code and the modules loaded by ``netspectra ARGV`` in a fresh interpreter."""
    run = subprocess.run([sys.executable, "-c", _MODULES_AFTER, *argv], capture_output=True, text=True, check=True)
    last = json.loads(run.stdout.strip().splitlines()[-1])
    return last["code"], set(last["modules"])


def _under(modules: set[str], *packages: str) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


@pytest.mark.parametrize("argv", [("--version",), ("--help",)])
def test_version_and_help_import_nothing_heavy(argv):
    code, modules = _imported(*argv)
    assert code == 0
    assert _under(modules, "numpy", "rich", "netspectra.pipeline", "netspectra.store", "netspectra.merge") == []


@pytest.mark.parametrize("command", ["analyze", "compare", "describe"])
def test_a_commands_help_imports_no_other_commands_modules(command):
    code, modules = _imported(command, "--help")
    assert code == 0
    assert _under(modules, "rich", "netspectra.store", "netspectra.merge.registry", "netspectra.denoise", "netspectra.act") == []


def test_merge_help_still_lists_the_methods(capsys):
    from netspectra import cli

    with pytest.raises(SystemExit):
        cli.main(["merge", "--help"])
    assert "slerp" in capsys.readouterr().out


def test_a_quiet_analysis_imports_no_other_command(tmp_path):
    """``analyze -o rows.csv --quiet``: no results store, no merge, compare, compress or actions, no rich."""
    model = tmp_path / "m.safetensors"
    write_tiny_mlp_safetensors(model)
    code, modules = _imported("analyze", str(model), "--quiet", "-o", str(tmp_path / "rows.csv"))
    assert code == 0 and (tmp_path / "rows.csv").exists()
    assert _under(modules, "rich", "netspectra.store", "netspectra.compare", "netspectra.denoise", "netspectra.act") == []
    assert _under(modules, "netspectra.merge.registry", "netspectra.merge.compat", "netspectra.report.table") == []


def test_a_quiet_compression_imports_no_pandas(tmp_path):
    """compress imported pandas (and pyarrow: 0.26 s) for a DataFrame it only builds when asked."""
    model = tmp_path / "m.safetensors"
    write_tiny_mlp_safetensors(model)
    out = str(tmp_path / "out.safetensors")
    code, modules = _imported("compress", str(model), "--min-dim", "2", "--force", "--quiet", "-o", out)
    assert code == 0 and (tmp_path / "out.safetensors").exists()
    assert _under(modules, "pandas", "pyarrow", "torch", "transformers") == []
