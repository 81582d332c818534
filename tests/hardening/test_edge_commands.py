"""Every command on a model made of the numerical edge cases (all-zero, rank-1, NaN/Inf, subnormal,
huge, 2x2, 1x4096, duplicated singular values, ...): a complete output and exit 0, or exit 2 with one
line naming the tensor and no output; never a traceback or a NumPy warning (warnings are errors here)."""

import json
import warnings

import pytest

from edge_matrices import CASES, write_edge_model
from netspectra.cli import main


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The edge model twice: A and an identical B."""
    root = tmp_path_factory.mktemp("edge_cmds")
    a = write_edge_model(root / "a.safetensors")
    b = root / "b.safetensors"
    b.write_bytes(a.read_bytes())
    return root, a, b


def _run(argv, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = main(argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "command, output",
    [
        (["analyze", "{a}", "--quiet"], "out.json"),
        (["compress", "{a}", "--method", "mp-edge", "--force", "--quiet"], "out.safetensors"),
        (["compress", "{a}", "--method", "gavish-donoho", "--shrink", "frobenius", "--force", "--quiet"], "out.safetensors"),
        (["compress", "{a}", "--method", "bema", "--dense", "--force", "--quiet"], "out.safetensors"),
        (["compare", "{a}", "{b}"], "out.json"),
        (["track", "{a}", "{b}"], "out.csv"),
    ],
)
def test_commands_give_every_edge_case_a_row(models, command, output, capsys):
    root, a, b = models
    out = root / output
    out.unlink(missing_ok=True)
    code, err = _run([part.format(a=a, b=b) for part in command] + ["-o", str(out)], capsys)
    assert code == 0 and out.exists()
    if command[0] == "compress":  # the degenerate matrices are zeroed: written only because of --force, and said
        damage, function = err.splitlines()  # and the model's function is not vouched for (the data-free bound)
        assert damage.startswith("netspectra: warning: ") and "zeroed" in damage
        assert function.startswith("netspectra: warning: function (not run: no config.json")
    else:
        assert err == ""
    if output == "out.json" and command[0] == "analyze":
        rows = {row["name"]: row for row in json.loads(out.read_text())["layers"]}
        for name, (_, status, fragment) in CASES.items():
            assert rows[f"{name}.weight"]["status"] == status and fragment in rows[f"{name}.weight"]["warning"]


def test_compress_refuses_to_zero_layers_without_force(models, capsys):
    """Without --force the same run ends with one line saying what would be destroyed, and writes nothing."""
    root, a, _ = models
    out = root / "refused.safetensors"
    code, err = _run(["compress", str(a), "--method", "mp-edge", "--quiet", "-o", str(out)], capsys)
    [line] = err.splitlines()
    assert code == 2 and line.startswith("netspectra: error: refused, nothing written: ") and "--force" in line
    assert not out.exists() and not out.with_suffix(".json").exists()


@pytest.mark.parametrize("method", ["linear", "spectral-auto"])
def test_merge_refuses_a_tensor_without_a_spectrum_by_name(models, method, capsys):
    root, a, b = models
    config = root / f"{method}.yaml"
    config.write_text(f"base_model: {a.name}\nmodels: [{a.name}, {b.name}]\nmethod: {method}\n")
    out = root / f"merged-{method}"
    code, err = _run(["merge", str(config), "-o", str(out), "--quiet"], capsys)
    assert code == 2
    [line] = err.strip().splitlines()
    assert line.startswith("netspectra: error: tensor '") and any(f"'{name}.weight'" in line for name in CASES)
    assert not out.exists()


def test_merge_check_names_the_tensor(models, capsys):
    root, a, b = models
    code, err = _run(["merge-check", str(a), str(b), "--base", str(a), "--quiet"], capsys)
    assert code == 2
    [line] = err.strip().splitlines()
    assert "tensor 'huge.weight'" in line and "overflow" in line
