"""The merge configuration: a YAML (or JSON) file, validated into a frozen :class:`MergeConfig`.

Schema (every key but ``models`` and ``method`` optional; unknown keys are refused so typos surface)::

    base_model: path                 # the common ancestor; needed by every method but linear
    models:                          # two or more; a bare path means weight 1
      - path: path
        weight: 1.0
    method: linear | task-arithmetic | ties | star | tsv | spectral-auto
    parameters:                      # method parameters (defaults shown)
      scale: 1.0                     # lambda, multiplies the merged task vector
      density: 0.2                   # TIES: fraction of entries kept per task vector
      eta: 0.4                       # STAR: fraction of the nuclear norm kept per task vector
      k: null                        # TSV: singular vectors kept per task (null: min(rows, cols) / T)
    overrides:                       # per-layer, first regex that matches (regex.search, 1 s time bound) the tensor name wins
      - match: 'embed'
        method: linear               # any of the keys below may be left out
        parameters: {scale: 0.5}     # merged over the top-level parameters
        weights: [0.7, 0.3]          # one per model
    dtype: bf16                      # output dtype of merged float tensors; default: each tensor's input dtype
    thresholds:                      # spectral-auto / merge-check thresholds (netspectra.merge.compat.Thresholds)
      interference: 0.1

Relative paths are resolved against the directory of the configuration file.
"""

from __future__ import annotations

import math
import os
import reprlib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import regex

from netspectra.denoise.encoding import COMPRESSIBLE_DTYPES
from netspectra.errors import UsageError
from netspectra.io import dtypes
from netspectra.io.structured import parse_json, parse_yaml, read_bounded
from netspectra.merge.compat import DEFAULT_THRESHOLDS, Thresholds
from netspectra.rmt.marchenko_pastur import TW1_QUANTILES

#: Every method name (underscores are accepted for hyphens).
METHODS = ("linear", "task-arithmetic", "ties", "star", "tsv", "spectral-auto")

#: Methods that work on task vectors and so need ``base_model``.
NEEDS_BASE = frozenset({"task-arithmetic", "ties", "star", "tsv"})

_DTYPE_ALIASES = {"FP64": "F64", "FP32": "F32", "FP16": "F16", "BFLOAT16": "BF16"}


#: Largest merge configuration read (a real one is a few KB).
MAX_CONFIG_BYTES = 1 << 20
#: Longest an override pattern may take on one tensor name (regex's own time bound).
REGEX_SECONDS = 1.0


def parse_method(name: object) -> str:
    """Canonical method name (``task_arithmetic`` -> ``task-arithmetic``)."""
    method = str(name).strip().lower().replace("_", "-")
    if method not in METHODS:
        raise UsageError(f"unknown merge method {_short(name)}; expected one of {', '.join(METHODS)}")
    return method


def parse_dtype(name: object) -> str:
    """Stored dtype of an output dtype name: F32/F16/BF16/F64, float32, bfloat16, bf16, half, ..."""
    text = str(name).strip()
    upper = _DTYPE_ALIASES.get(text.upper(), text.upper())
    dtype = upper if upper in COMPRESSIBLE_DTYPES else dtypes.from_torch(text.lower())
    if dtype not in COMPRESSIBLE_DTYPES:
        raise UsageError(f"unsupported output dtype {_short(name)}; expected one of {', '.join(COMPRESSIBLE_DTYPES)}")
    return dtype


@dataclass(frozen=True)
class MethodParams:
    """Parameters of the merge rules (see :mod:`netspectra.merge.methods`).

    Attributes
    ----------
    scale : float
        lambda, the factor of the merged task vector (task arithmetic, TIES, STAR, TSV, average).
    density : float
        TIES: fraction of each task vector's entries kept, in (0, 1] (paper: 0.2).
    eta : float
        STAR: fraction of each task vector's nuclear norm kept, in (0, 1] (paper: 40%, so 0.4).
    k : int or None
        TSV: singular vectors kept per task; None for min(rows, cols) / T.
    """

    scale: float = 1.0
    density: float = 0.2
    eta: float = 0.4
    k: int | None = None

    def updated(self, mapping: dict[str, Any], where: str) -> MethodParams:
        """A copy with the entries of ``mapping`` (validated; ``where`` names the place in errors)."""
        if not isinstance(mapping, dict):
            raise UsageError(f"{where}: parameters must be a mapping")
        names = {f.name for f in fields(self)}
        unknown = sorted(set(mapping) - names)
        if unknown:
            raise UsageError(f"{where}: unknown parameter {_short(unknown[0])}; expected {', '.join(sorted(names))}")
        values = {}
        for key, value in mapping.items():
            if key == "k":
                if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                    raise UsageError(f"{where}: k must be a positive integer or null, got {_short(value)}")
                values[key] = value
                continue
            number = _number(value, f"{where}: {key}")
            if key in ("density", "eta") and not 0.0 < number <= 1.0:
                hint = " (a fraction: 0.4 keeps 40%)" if key == "eta" else ""
                raise UsageError(f"{where}: {key} must lie in (0, 1]{hint}, got {_short(number)}")
            values[key] = number
        return replace(self, **values)

    def to_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class ModelSpec:
    """One model to merge and its weight."""

    path: str
    weight: float = 1.0


@dataclass(frozen=True)
class Override:
    """Per-layer settings for tensors whose name matches ``pattern`` (``re.search``)."""

    pattern: str
    method: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    weights: tuple[float, ...] | None = None

    def matches(self, name: str) -> bool:
        """``regex.search`` of the pattern in ``name``, given at most :data:`REGEX_SECONDS`.

        Raises
        ------
        UsageError
            When the search takes longer: a pattern that backtracks catastrophically (``(a|aa)+$``)
            would otherwise hang the merge on a long name.
        """
        try:
            return regex.search(self.pattern, name, timeout=REGEX_SECONDS) is not None
        except TimeoutError:
            raise UsageError(
                f"override {_short(self.pattern)}: matching {_short(name)} took over {REGEX_SECONDS} s "
                "(catastrophic backtracking): simplify the pattern"
            ) from None


@dataclass(frozen=True)
class LayerPlan:
    """What to do with one tensor: the method, its parameters, the model weights and why."""

    method: str
    params: MethodParams
    weights: tuple[float, ...]
    reason: str


@dataclass(frozen=True)
class MergeConfig:
    """A validated merge configuration; build it with :func:`load_config` or :meth:`from_dict`."""

    models: tuple[ModelSpec, ...]
    method: str
    base_model: str | None = None
    params: MethodParams = MethodParams()
    overrides: tuple[Override, ...] = ()
    dtype: str | None = None
    thresholds: Thresholds = DEFAULT_THRESHOLDS

    @classmethod
    def from_dict(cls, data: dict[str, Any], base_dir: str | Path | None = None) -> MergeConfig:
        """Validate a parsed configuration; relative paths are taken relative to ``base_dir``.

        Raises
        ------
        UsageError
            For a missing or unknown key, a value of the wrong type or range, an invalid regular
            expression, a weights list of the wrong length, or a method that needs a base without one.
        """
        if not isinstance(data, dict):
            raise UsageError("merge configuration must be a mapping")
        allowed = {"base_model", "models", "method", "parameters", "overrides", "dtype", "thresholds"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise UsageError(f"unknown configuration key {_short(unknown[0])}; expected {', '.join(sorted(allowed))}")
        for key in ("models", "method"):
            if key not in data:
                raise UsageError(f"merge configuration needs {_short(key)}")
        root = Path(base_dir) if base_dir is not None else None
        models = tuple(_model_spec(entry, i, root) for i, entry in enumerate(_list(data["models"], "models")))
        if len(models) < 2:
            raise UsageError("models: give at least two models to merge")
        base = data.get("base_model")
        base = _path(base, "base_model", root) if base is not None else None
        params = MethodParams().updated(data.get("parameters") or {}, "parameters")
        entries = _list(data.get("overrides") or [], "overrides")
        overrides = tuple(_override(entry, i, len(models)) for i, entry in enumerate(entries))
        thresholds = _thresholds(data.get("thresholds") or {})
        config = cls(
            models=models,
            method=parse_method(data["method"]),
            base_model=base,
            params=params,
            overrides=overrides,
            dtype=parse_dtype(data["dtype"]) if data.get("dtype") is not None else None,
            thresholds=thresholds,
        )
        for method in {config.method, *(o.method for o in overrides if o.method)}:
            if method in NEEDS_BASE and base is None:
                raise UsageError(f"method {method} merges task vectors and needs base_model")
        for where, method, weights in [("models", config.method, config.weights)] + [
            (f"overrides[{i}]", o.method or config.method, o.weights or config.weights) for i, o in enumerate(overrides)
        ]:
            if method != "task-arithmetic" and sum(weights) == 0:  # the other rules normalise the weights
                raise UsageError(f"{where}: the weights sum to zero, which {method} cannot normalise")
        return config

    @property
    def weights(self) -> tuple[float, ...]:
        return tuple(m.weight for m in self.models)

    def plan(self, name: str) -> LayerPlan:
        """Method, parameters and weights for tensor ``name``: the first matching override, else the
        top-level settings."""
        for override in self.overrides:
            if override.matches(name):
                return LayerPlan(
                    method=override.method or self.method,
                    params=self.params.updated(override.params, f"override {_short(override.pattern)}"),
                    weights=override.weights or self.weights,
                    reason=f"override {override.pattern}",
                )
        return LayerPlan(self.method, self.params, self.weights, "method")

    def to_dict(self) -> dict[str, object]:
        """The configuration as a plain dict (the schema of :func:`load_config`)."""
        out: dict[str, object] = {
            "base_model": self.base_model,
            "models": [{"path": m.path, "weight": m.weight} for m in self.models],
            "method": self.method,
            "parameters": self.params.to_dict(),
            "overrides": [
                {
                    "match": o.pattern,
                    "method": o.method,
                    "parameters": dict(o.params),
                    "weights": list(o.weights) if o.weights else None,
                }
                for o in self.overrides
            ],
            "dtype": self.dtype,
            "thresholds": self.thresholds.to_dict(),
        }
        return out


def load_config(path: str | Path, *, check_paths: bool = False) -> MergeConfig:
    """Read and validate a merge configuration (``.yaml``/``.yml`` with PyYAML, or ``.json``).

    Parameters
    ----------
    path : path
        The configuration file; relative model paths in it are taken relative to its directory.
    check_paths : bool
        Also refuse a ``base_model`` or model path that does not exist, naming this file and the key
        (the commands do: a typo in the configuration is the configuration's error, not a model's).

    Raises
    ------
    UsageError
        Missing or unreadable file, invalid YAML/JSON, an invalid configuration, or (with
        ``check_paths``) a model path that does not exist.
    """
    path = Path(path)
    label = os.fspath(path)
    text = read_bounded(path, label, "merge configuration", UsageError, MAX_CONFIG_BYTES)
    parse = parse_json if path.suffix.lower() == ".json" else parse_yaml
    data = parse(text, label, "merge configuration", UsageError)
    try:
        config = MergeConfig.from_dict(data, path.parent)
    except UsageError as exc:
        raise UsageError(f"{path}: {exc}") from None
    if check_paths:
        named = [("base_model", config.base_model)] if config.base_model is not None else []
        named += [(f"models[{i}].path", m.path) for i, m in enumerate(config.models)]
        for key, model in named:
            if not Path(model).exists():
                raise UsageError(f"{path}: {key}: {model}: no such file or directory")
    return config


def _list(value: object, key: str) -> list:
    if not isinstance(value, list):
        raise UsageError(f"{key} must be a list")
    return value


def _path(value: object, where: str, root: Path | None) -> str:
    if not isinstance(value, str) or not value:
        raise UsageError(f"{where} must be a path, got {_short(value)}")
    path = Path(value).expanduser()
    return str(root / path if root is not None and not path.is_absolute() else path)


def _number(value: object, where: str) -> float:
    """A finite number as a float (NaN, infinities and integers beyond float range refused)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise UsageError(f"{where} must be a number, got {_short(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise UsageError(f"{where} is too large for a float ({value.bit_length()}-bit integer)") from None
    if not math.isfinite(number):
        raise UsageError(f"{where} must be finite, got {number}")
    return number


def _short(value: object) -> str:
    """``repr(value)`` of at most 80 characters, computed only that far (the value may be huge)."""
    text = reprlib.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _model_spec(entry: object, i: int, root: Path | None) -> ModelSpec:
    if isinstance(entry, str):
        return ModelSpec(_path(entry, f"models[{i}]", root))
    if not isinstance(entry, dict) or "path" not in entry:
        raise UsageError(f"models[{i}] must be a path or a mapping with 'path' (and 'weight')")
    unknown = sorted(set(entry) - {"path", "weight"})
    if unknown:
        raise UsageError(f"models[{i}]: unknown key {_short(unknown[0])}; expected path, weight")
    weight = _number(entry.get("weight", 1.0), f"models[{i}].weight")
    return ModelSpec(_path(entry["path"], f"models[{i}].path", root), weight)


def _override(entry: object, i: int, num_models: int) -> Override:
    where = f"overrides[{i}]"
    if not isinstance(entry, dict) or "match" not in entry:
        raise UsageError(f"{where} must be a mapping with 'match' (a regular expression)")
    unknown = sorted(set(entry) - {"match", "method", "parameters", "weights"})
    if unknown:
        raise UsageError(f"{where}: unknown key {_short(unknown[0])}; expected match, method, parameters, weights")
    pattern = entry["match"]
    try:
        regex.compile(pattern)
    except (regex.error, TypeError, ValueError) as exc:
        raise UsageError(f"{where}: invalid regular expression {_short(pattern)}: {exc}") from None
    params = entry.get("parameters") or {}
    MethodParams().updated(params, where)  # validate now, merge over the top level per layer
    weights = entry.get("weights")
    if weights is not None:
        weights = tuple(_number(w, f"{where}.weights") for w in _list(weights, f"{where}.weights"))
        if len(weights) != num_models:
            raise UsageError(f"{where}: {len(weights)} weights for {num_models} models")
    method = parse_method(entry["method"]) if entry.get("method") is not None else None
    return Override(pattern, method, dict(params), weights)


def _thresholds(mapping: object) -> Thresholds:
    if not isinstance(mapping, dict):
        raise UsageError("thresholds must be a mapping")
    names = {f.name: f for f in fields(Thresholds)}
    values: dict[str, Any] = {}
    for key, value in mapping.items():
        if key not in names:
            raise UsageError(f"thresholds: unknown key {_short(key)}; expected {', '.join(names)}")
        default = getattr(DEFAULT_THRESHOLDS, key)
        if isinstance(default, tuple):
            pair = _list(value, f"thresholds.{key}")
            if len(pair) != 2:
                raise UsageError(f"thresholds.{key} must be [caution, incompatible]")
            values[key] = tuple(_number(v, f"thresholds.{key}") for v in pair)
        else:
            values[key] = _number(value, f"thresholds.{key}")
    if values.get("tw_level", DEFAULT_THRESHOLDS.tw_level) not in TW1_QUANTILES:
        raise UsageError(f"thresholds.tw_level must be one of {', '.join(map(str, sorted(TW1_QUANTILES)))}")
    return replace(DEFAULT_THRESHOLDS, **values)
