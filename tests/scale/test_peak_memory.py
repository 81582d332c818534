"""Peak memory of analyze and compare on a large embedding (issue 26, item 10), measured in a subprocess.

A GGUF file holds one Q8_0 embedding of :data:`ROWS` x :data:`COLS` (float32: :data:`W_BYTES`, 128 MiB)
and a Gemma-sized vocabulary (262,144 tokens) in its metadata; a safetensors file holds the same matrix in
float32 with some rows changed.  Each run is a fresh interpreter whose ``ru_maxrss`` is reported (by a small
launcher, :data:`_LAUNCHER`); the baseline is one that imports the same modules and reads nothing.

* ``analyze`` of the GGUF: the decoded float32 matrix and one block's work, under 1.5 W.  Before: the gguf
  package's reader built a NumPy view per token of the vocabulary (690 MB for Gemma 3's) and its
  ``dequantize`` held every group's output beside the result (2 W).
* ``compare`` of the GGUF against the safetensors: the two decoded matrices, under 2.5 W.  Before: both in
  float64 and their float64 difference beside them (5 W more).

The suite's HTMP table cache starts empty (``tests/conftest.py``), and a first analysis builds the tables it
needs (tens of MiB of mpmath work, the same for any size of matrix): each measured run follows one that filled
the cache, as every run after a user's first does.

The rows themselves are checked against the computation they replace: the matrix dequantized whole by the
gguf package and analyzed in memory, and the difference formed in float64 and decomposed whole.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import save_file

from netspectra import analyze_array
from netspectra.compare.diff import difference_spectrum

gguf = pytest.importorskip("gguf")

ROWS, COLS = 131_072, 256
W_BYTES = ROWS * COLS * 4
VOCAB = 262_144
NAME = "model.embed_tokens.weight"

_PROBE = r"""
import json, sys
import gguf, safetensors
import netspectra
from netspectra.compare.pair import compare_models
what, *paths = sys.argv[1:]
out = {}
if what == "analyze":
    row = netspectra.analyze(paths[0], executor="local").layers[0]
    out = {"lambda_max": row.lambda_max, "alpha": row.alpha}
elif what == "compare":
    layer = compare_models(paths[0], paths[1], executor="local").layers[0]
    out = {"diff_rel_frobenius": layer.diff_rel_frobenius, "diff_alpha": layer.diff_alpha}
print(json.dumps(out))
"""

#: Runs the probe as its child and adds the child's ``ru_maxrss``.  A process's ``ru_maxrss`` starts at the
#: resident size of the process that forked it (Linux keeps the old address space's high-water mark across
#: ``exec``): measured directly from the test process, every run would read at least the suite's own size.
#: This launcher is a small fresh interpreter, so its child's figure is the child's own.
_LAUNCHER = r"""
import json, resource, subprocess, sys
done = subprocess.run([sys.executable, "-c", *sys.argv[1:]], capture_output=True, text=True, check=True)
out = json.loads(done.stdout.strip().splitlines()[-1])
out["peak"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps(out))
"""


def _q8_0_blocks(rng: np.random.Generator) -> np.ndarray:
    """Q8_0 bytes of a ROWS x COLS matrix: per block of 32 a float16 scale, then 32 int8 codes (heavy-tailed rows)."""
    blocks = ROWS * COLS // 32
    scales = (0.002 * (1.0 + rng.pareto(3.0, blocks))).astype(np.float16)
    codes = rng.integers(-127, 128, size=(blocks, 32), dtype=np.int8)
    raw = np.empty((blocks, 34), dtype=np.uint8)
    raw[:, :2] = scales.view(np.uint8).reshape(-1, 2)
    raw[:, 2:] = codes.view(np.uint8)
    return raw.reshape(ROWS, COLS // 32 * 34)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("peak")
    raw = _q8_0_blocks(np.random.default_rng(0))
    writer = gguf.GGUFWriter(str(root / "embedding.gguf"), "llama")
    writer.add_block_count(1)
    writer.add_token_list([f"token{i}" for i in range(VOCAB)])
    writer.add_tensor("token_embd.weight", raw, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    dense = gguf.quants.dequantize(raw, gguf.GGMLQuantizationType.Q8_0).reshape(ROWS, COLS)
    changed = dense.copy()
    changed[:16384] += np.random.default_rng(1).standard_normal((16384, COLS)).astype(np.float32) * 0.05
    save_file({NAME: changed}, str(root / "changed.safetensors"))
    return root, dense, changed


def _run(*args: str) -> dict:
    """The probe's output and peak resident memory for ``args``, run after an identical run (module docstring)."""
    _launch(*args)
    return _launch(*args)


def _launch(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, _PROBE, *args], capture_output=True, text=True, timeout=600, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_analyze_peaks_at_the_decoded_matrix_and_gives_the_same_row(files):
    root, dense, _ = files
    base = _run("base")["peak"]
    run = _run("analyze", str(root / "embedding.gguf"))
    assert run["peak"] - base < 1.5 * W_BYTES, f"peak {(run['peak'] - base) / 2**20:.0f} MiB above the imports"
    whole = analyze_array(dense, name=NAME, kind="embedding")
    assert run["lambda_max"] == pytest.approx(whole.lambda_max, rel=1e-12, abs=0)
    assert run["alpha"] == pytest.approx(whole.alpha, rel=1e-12, abs=0)


@pytest.mark.slow
def test_compare_peaks_at_the_pair_and_gives_the_same_difference(files):
    root, dense, changed = files
    base = _run("base")["peak"]
    run = _run("compare", str(root / "embedding.gguf"), str(root / "changed.safetensors"))
    assert run["peak"] - base < 2.5 * W_BYTES, f"peak {(run['peak'] - base) / 2**20:.0f} MiB above the imports"
    a, b, row = dense[None, :, :], changed[None, :, :], analyze_array(dense)
    whole = difference_spectrum(
        b.astype(np.float64) - a.astype(np.float64),
        spectral_norm_a=row.spectral_norm,
        frobenius_norm_a=row.frobenius_norm,
        eps=2.0**-23,
    )
    assert run["diff_rel_frobenius"] == pytest.approx(whole.rel_frobenius, rel=1e-12, abs=0)
    assert run["diff_alpha"] == pytest.approx(whole.alpha, rel=1e-12, abs=0)


def test_the_difference_spectrum_equals_that_of_the_difference_formed_whole():
    """lambda_max, norms, rank and alpha of W_B - W_A from blocks of rows, against the float64 difference."""
    rng = np.random.default_rng(3)
    a = rng.standard_t(3, (5000, 300)).astype(np.float32)
    b = a + (rng.standard_normal((5000, 8)) @ rng.standard_normal((8, 300)) * 0.05).astype(np.float32)
    b[:100] += rng.standard_normal((100, 300)).astype(np.float32) * 0.02
    kwargs = dict(spectral_norm_a=float(np.linalg.norm(a.astype(np.float64), 2)), frobenius_norm_a=1.0, eps=2.0**-23)
    streamed = difference_spectrum(b[None], a[None], **kwargs)
    whole = difference_spectrum(b[None].astype(np.float64) - a[None].astype(np.float64), **kwargs)
    assert streamed.rank == whole.rank
    for field in ("rel_frobenius", "rel_spectral", "alpha", "alpha_se"):
        assert getattr(streamed, field) == pytest.approx(getattr(whole, field), rel=1e-12, abs=0), field


def test_cka_from_blocks_of_rows_equals_the_formula_on_the_whole_matrices():
    """WeightWatcher's CKA (compare's ``cka`` column) accumulated from blocks of rows, against its formula on
    float64 copies of both matrices (what made compare's peak 1.3 GB above the imports here)."""
    from netspectra.compare.cka import weight_cka

    rng = np.random.default_rng(4)
    a = rng.standard_t(3, (5000, 300)).astype(np.float32)
    b = (a + rng.standard_normal((5000, 300)) * 0.3).astype(np.float32)
    x, y = a.astype(np.float64) / np.abs(a).max(), b.astype(np.float64) / np.abs(b).max()
    norm = np.sqrt(np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))
    as_n = np.linalg.norm(x.T @ y) / norm
    as_m = np.sqrt(np.sum((x.T @ x) * (y.T @ y))) / norm
    assert weight_cka(a[None], b[None], rows_are_n=True) == pytest.approx(as_n, rel=1e-12, abs=0)
    assert weight_cka(a[None], b[None], rows_are_n=False) == pytest.approx(as_m, rel=1e-12, abs=0)
    # ||G_A||_F and ||G_B||_F from the spectra (what compare passes): only A^T B is accumulated
    spectra = tuple(np.linalg.eigvalsh(w.astype(np.float64).T @ w.astype(np.float64) / w.shape[0]) for w in (a, b))
    assert weight_cka(a[None], b[None], rows_are_n=True, spectra=spectra) == pytest.approx(as_n, rel=1e-12, abs=0)
    assert weight_cka(a[None], b[None], rows_are_n=False, spectra=spectra) == pytest.approx(as_m, rel=1e-12, abs=0)
    doubled = (spectra[0], 4 * spectra[1])  # the spectra given are the ones used: ||G_B||_F four times larger
    assert weight_cka(a[None], b[None], rows_are_n=True, spectra=doubled) == pytest.approx(as_n / 2, rel=1e-12, abs=0)
