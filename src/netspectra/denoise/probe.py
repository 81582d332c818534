"""Run a Hugging Face model folder on a fixed probe set, with compressed matrices swapped in.

A model can run when ``transformers`` (and torch) is installed and its weights sit in a folder with
``config.json`` whose architecture transformers knows without remote code (encoder-decoder models
excluded: they need decoder inputs), of at most :data:`MAX_PROBE_PARAMETERS` parameters.  The model class
is the first of ``config.architectures`` (so a head, ``lm_head`` or a classifier, runs too), else
``AutoModel``; it is loaded by ``from_pretrained(folder, local_files_only=True)`` in float32, never
downloading anything, and every matrix to be compressed is checked to equal the model's parameter of
that name: a folder whose model is not these weights is not run.

Inputs: :data:`PROBE_SENTENCES` (32 sentences written for netspectra) through the folder's own tokenizer
(``AutoTokenizer``, padding to the longest) where the folder holds a vocabulary (:data:`TOKENIZER_FILES`);
a folder without a usable tokenizer reads
:data:`PROBE_SHAPE` random token ids drawn uniformly from the vocabulary with seed :data:`PROBE_SEED` (any
id is a valid input; the check then measures the compressed weights on tokens of every kind rather than
on language).  The compared output is ``logits`` where the model has a head, else the last hidden state.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from netspectra.errors import one_line
from netspectra.io import ModelSource, TensorRecord

#: The probe set: short sentences of everyday topics, written for netspectra (no data set is needed).
PROBE_SENTENCES = (
    "The library opens at nine on weekdays.",
    "She poured hot tea into a chipped blue mug.",
    "Our team fixed the bug before the release.",
    "A heron stood still in the shallow river.",
    "Prices for fresh vegetables rose this winter.",
    "He forgot his umbrella on the crowded bus.",
    "The orchestra tuned up while the hall filled.",
    "Please send the signed contract by Friday.",
    "Volcanic ash closed the airport for two days.",
    "The toddler stacked wooden blocks into a tower.",
    "Solar panels cover the roof of the new school.",
    "My grandmother grows tomatoes on her balcony.",
    "The committee postponed its vote until spring.",
    "A cold wind swept across the empty parking lot.",
    "Translate this paragraph into plain English.",
    "The museum displays fossils of ancient fish.",
    "Two cyclists raced down the mountain road.",
    "The server crashed after the nightly backup.",
    "Fresh bread smells wonderful in the morning.",
    "The detective found a muddy footprint by the door.",
    "Interest rates are expected to fall next year.",
    "The puppy chewed through the garden hose.",
    "Astronomers spotted a comet near Jupiter.",
    "Turn left at the second traffic light.",
    "The choir rehearsed every Thursday evening.",
    "Heavy snow delayed the delivery of the parcels.",
    "He learned to play the violin at forty.",
    "The spreadsheet lists every invoice from March.",
    "Lightning struck the old oak tree in the park.",
    "Our neighbours painted their fence bright yellow.",
    "The patient recovered quickly after surgery.",
    "Wind turbines turned slowly on the distant hill.",
)
#: (inputs, tokens) of the random token ids read by a model without a tokenizer.
PROBE_SHAPE = (32, 16)
PROBE_SEED = 20260527
#: A tokenizer is used only where the folder holds one of these vocabulary files.
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model")
#: Largest model run: it is held in float32 with a copy of its compressed matrices and their SVDs in
#: float64 (about 30 bytes per parameter), and run several times on the CPU.
MAX_PROBE_PARAMETERS = 100_000_000


@dataclass(frozen=True)
class ProbeOutputs:
    """Final outputs (inputs, tokens, features), float64, the mask of real tokens (inputs, tokens), and which
    output they are (``logits`` or ``last hidden state``)."""

    values: np.ndarray
    mask: np.ndarray
    label: str


class ProbeModel:
    """A loaded model, its probe inputs, the parameters that compressed matrices replace, and the original
    model's outputs (:attr:`reference`, computed when made).

    Made by :func:`open_probe`.  :meth:`set_matrix` writes a compressed matrix into the model (the originals
    are not kept: the model serves one compression and the settings tried after it); :meth:`run` reads the
    probe inputs.
    """

    def __init__(self, model: Any, inputs: dict[str, Any], parameters: dict[str, Any], inputs_label: str) -> None:
        self.model = model
        self.inputs = inputs
        self.parameters = parameters
        self.inputs_label = inputs_label
        self.reference = self.run()

    def set_matrix(self, name: str, values: np.ndarray) -> None:
        """Write ``values`` (the stored shape) into the parameter that holds matrix ``name``."""
        import torch

        with torch.no_grad():
            self.parameters[name].copy_(torch.from_numpy(np.asarray(values, dtype=np.float32)))

    def run(self) -> ProbeOutputs:
        """The model's final output on the probe inputs (:func:`_final_output`), computed on one thread: a few
        dozen short inputs are too little work to share, and torch's spinning threads cost 7x the CPU time on
        a busy machine (MiniLM: 0.87 s with two threads, 0.12 s with one)."""
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                out = self.model(**self.inputs)
        finally:
            torch.set_num_threads(threads)
        label, values = _final_output(out)
        mask = self.inputs.get("attention_mask")
        mask_array = np.ones(values.shape[:2]) if mask is None else mask.numpy().astype(np.float64)
        return ProbeOutputs(values.double().numpy(), mask_array, label)


def probe_obstacle(src: ModelSource) -> str | None:
    """Why the model of ``src`` cannot run, from what is known without importing or loading anything
    (a live module, no ``config.json``, transformers or torch not installed, too many parameters); None
    when it may (:func:`open_probe` then tries)."""
    folder = model_folder(src)
    if folder is None:
        return "a live module (no folder to load it from)"
    if not (folder / "config.json").is_file():
        return "no config.json next to the weights"
    missing = [name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None]
    if missing:
        return f"{' and '.join(missing)} not installed"
    total = parameter_count(src)
    if total > MAX_PROBE_PARAMETERS:
        return f"{total:,} parameters, more than the {MAX_PROBE_PARAMETERS:,} run on the CPU"
    return None


def model_folder(src: ModelSource) -> Path | None:
    """The folder a Hugging Face loader would read ``src`` from: its path, or the file's directory."""
    if src.path is None:
        return None
    return src.path if src.path.is_dir() else src.path.parent


def parameter_count(src: ModelSource) -> int:
    """Number of values in every tensor of ``src`` (from the headers)."""
    return sum(math.prod(record.shape) for record in src.tensors())


def open_probe(folder: Path, matrices: Sequence[TensorRecord], total: int) -> ProbeModel | str:
    """Load the model of ``folder`` and run it once on the probe set, or say why it cannot.

    Call it where :func:`probe_obstacle` found nothing in the way.

    Parameters
    ----------
    folder : Path
        The model's folder, with ``config.json`` (:func:`model_folder`).
    matrices : sequence of TensorRecord
        The matrices that will be compressed; each must be a parameter of the loaded model with the
        same values.
    total : int
        Parameters of the weights read (:func:`parameter_count`): a ``config.json`` that declares many
        more is not instantiated.

    Returns
    -------
    ProbeModel, or str
        The reason (one line) where transformers cannot load or run it; nothing is raised.
    """
    try:
        import torch
        import transformers

        with _quiet(transformers):
            return _load(folder, matrices, total, torch, transformers)
    except Exception as exc:  # any failure of a third-party loader means "cannot run"
        return f"transformers cannot run it: {one_line(exc, 160)}"


def _load(folder: Path, matrices: Sequence[TensorRecord], total: int, torch: Any, transformers: Any) -> ProbeModel | str:
    config = transformers.AutoConfig.from_pretrained(folder, local_files_only=True)
    if getattr(config, "is_encoder_decoder", False):
        return "an encoder-decoder model (the probe has no decoder inputs)"
    architecture = next(iter(getattr(config, "architectures", None) or []), None)
    cls = getattr(transformers, architecture, None) if architecture else None
    if cls is None or not hasattr(cls, "from_pretrained"):
        cls = transformers.AutoModel
    with torch.device("meta"):  # what config.json declares, before anything is allocated
        skeleton = cls.from_config(config) if cls is transformers.AutoModel else cls(config)
    declared = sum(p.numel() for p in skeleton.parameters())
    if declared > max(MAX_PROBE_PARAMETERS, 2 * total):
        return f"config.json declares {declared:,} parameters, the weights hold {total:,}"
    if getattr(skeleton, "main_input_name", "input_ids") != "input_ids":
        return f"the model reads {skeleton.main_input_name}, the probe has token ids only"
    model = cls.from_pretrained(folder, local_files_only=True).float().eval()
    parameters = _matching_parameters(model, matrices)
    if isinstance(parameters, str):
        return parameters
    inputs, label = _probe_inputs(folder, config, torch, transformers)
    return ProbeModel(model, inputs, parameters, label)


def _matching_parameters(model: Any, matrices: Sequence[TensorRecord]) -> dict[str, Any] | str:
    """The model's parameter of each matrix (its name as stored, with or without the base model prefix),
    checked to hold the same values; else why not."""
    named = dict(model.named_parameters(remove_duplicate=False))
    prefix = f"{getattr(model, 'base_model_prefix', '')}."
    found: dict[str, Any] = {}
    for record in matrices:
        candidates = (record.name, prefix + record.name, record.name.removeprefix(prefix))
        parameter = next((named[c] for c in candidates if c in named), None)
        if parameter is None:
            return f"the model has no parameter {record.name}"
        stored = np.asarray(record.load_required(), dtype=np.float32)
        if tuple(parameter.shape) != stored.shape or not np.array_equal(parameter.detach().numpy(), stored):
            return f"the folder's model does not hold these weights ({record.name} differs)"
        found[record.name] = parameter
    return found


def _probe_inputs(folder: Path, config: Any, torch: Any, transformers: Any) -> tuple[dict[str, Any], str]:
    """The probe sentences through the folder's tokenizer, or random token ids without a usable one (no
    vocabulary file: transformers would make an empty tokenizer that reads every word as unknown; one that
    cannot pad, or gives ids outside the model's vocabulary)."""
    vocab_size = int(config.vocab_size)
    if any((folder / name).is_file() for name in TOKENIZER_FILES):
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
            encoded = dict(tokenizer(list(PROBE_SENTENCES), padding=True, return_tensors="pt"))
            if int(encoded["input_ids"].max()) < vocab_size:
                return encoded, f"{len(PROBE_SENTENCES)} probe sentences (the model's tokenizer)"
        except Exception:  # a tokenizer that cannot be loaded or pad: random ids instead
            pass
    count, length = PROBE_SHAPE
    length = min(length, int(getattr(config, "max_position_embeddings", length) or length))
    ids = np.random.default_rng(PROBE_SEED).integers(0, vocab_size, size=(count, length))
    inputs = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.ones(count, length, dtype=torch.long)}
    return inputs, f"{count} x {length} random token ids (seed {PROBE_SEED}; no usable tokenizer)"


def _final_output(out: Any) -> tuple[str, Any]:
    """The output compared: ``logits`` where the model has a head, else the last hidden state."""
    for label, name in (("logits", "logits"), ("last hidden state", "last_hidden_state")):
        values = getattr(out, name, None)
        if values is not None:
            return label, values
    raise ValueError("the model's output has neither logits nor a last hidden state")


@contextlib.contextmanager
def _quiet(transformers: Any) -> Iterator[None]:
    """transformers without its progress bars and warnings (restored after)."""
    logging = transformers.utils.logging
    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()
