"""Every decomposition goes through netspectra.linalg: no module outside it calls LAPACK, ARPACK or torch.linalg.

The claim of the ``netspectra.linalg`` docstring, read from the source: outside ``src/netspectra/linalg/`` no
call of a ``numpy.linalg`` / ``scipy.linalg`` / ``scipy.sparse.linalg`` / ``torch.linalg`` routine that
decomposes or solves (``LinAlgError`` and the Frobenius/vector ``norm`` are not decompositions; ``norm`` with
ord 2, -2 or "nuc" is an SVD), and no import of such a routine by name.
"""

import ast
from pathlib import Path

import numpy as np

import netspectra
from netspectra.linalg import orthonormal_basis, solve_linear, spectral_norm

SRC = Path(netspectra.__file__).parent
LINALG_MODULES = ("linalg",)  # attribute names under which the routines live: np.linalg.svd, scipy.linalg.qr, ...
ALLOWED = {"LinAlgError", "norm"}


def _dotted(node: ast.expr) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[-1] == "linalg":
            if not node.module.startswith("netspectra"):
                found += [
                    f"{path.name}:{node.lineno} from {node.module} import {a.name}" for a in node.names if a.name != "LinAlgError"
                ]
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr in LINALG_MODULES:
            if _dotted(node.value).startswith("netspectra") or node.attr in ALLOWED:
                continue
            found.append(f"{path.name}:{node.lineno} {_dotted(node)}")
        if isinstance(node, ast.Call) and _dotted(node.func).endswith("linalg.norm"):
            orders = [k.value for k in node.keywords if k.arg == "ord"] + node.args[1:2]
            if any(not (isinstance(o, ast.Constant) and o.value in (None, "fro")) for o in orders):
                found.append(f"{path.name}:{node.lineno} {_dotted(node.func)} with an operator-norm order")
    return found


def test_nothing_outside_linalg_calls_lapack():
    outside = [p for p in sorted(SRC.rglob("*.py")) if "linalg" not in p.relative_to(SRC).parts]
    assert outside, SRC
    violations = [v for path in outside for v in _violations(path)]
    assert violations == []


def test_the_helpers_are_numpy_bit_for_bit():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((40, 7))
    np.testing.assert_array_equal(orthonormal_basis(a), np.linalg.qr(a)[0])
    assert spectral_norm(a) == np.linalg.norm(a, 2)
    square = a.T @ a
    np.testing.assert_array_equal(solve_linear(square, a[0]), np.linalg.solve(square, a[0]))
