"""The merge configuration: a YAML (or JSON) file, validated into a frozen :class:`MergeConfig`.

Schema (every key but ``models`` and ``method`` optional; unknown keys are refused so typos surface)::

    base_model: path                 # the common ancestor; needed by every task-vector method
    models:                          # as many as the method merges; a bare path means weight 1
      - path: path
        weight: 1.0
        parameters: {density: 0.5}   # per-model values of per-model parameters (density, epsilon, gamma)
    method: linear | task-arithmetic | ties | dare-linear | dare-ties | della | della-linear | breadcrumbs
            | breadcrumbs-ties | star | tsv | spectral-auto | slerp | nuslerp | model-stock
    parameters:                      # method parameters (netspectra.merge.registry; defaults shown)
      scale: 1.0                     # lambda, multiplies the merged task vector
      density: 0.2                   # TIES, DARE, DELLA, Breadcrumbs: fraction of entries kept per task vector
      eta: 0.4                       # STAR: fraction of the nuclear norm kept per task vector
      k: null                        # TSV: singular vectors kept per task (null: min(rows, cols) / T)
      t: 0.5                         # SLERP: 0 the first model, 1 the second
    overrides:                       # per-layer, first regex that matches (regex.search) the tensor name wins
      - match: 'embed'
        method: linear               # any of the keys below may be left out
        parameters: {scale: 0.5}     # merged over the top-level parameters
        weights: [0.7, 0.3]          # one per model
    dtype: bf16                      # output dtype of merged float tensors; default: each tensor's input dtype
    thresholds:                      # spectral-auto / merge-check thresholds (netspectra.merge.compat.Thresholds)
      interference: 0.1

A parameter value may also vary over the tensors, in mergekit's syntax (:mod:`netspectra.merge.settings`):
a list is a gradient over the layers, a list of ``{filter, value}`` picks by tensor name.  A mergekit
configuration (``merge_method``, ``models: [{model, parameters}]``, ...) is accepted as it is
(:mod:`netspectra.merge.mergekit`).

Relative paths are resolved against the directory of the configuration file.  Bounds on hostile
configurations: at most :data:`MAX_MODELS` models, override patterns bounded in size before they are
compiled and in matching time per name and per merge (:mod:`netspectra.merge.patterns`).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from netspectra.constraints import short_repr
from netspectra.denoise.encoding import COMPRESSIBLE_DTYPES
from netspectra.errors import UsageError
from netspectra.io import dtypes
from netspectra.io.structured import parse_json, parse_yaml, read_bounded
from netspectra.merge import mergekit
from netspectra.merge.compat import DEFAULT_THRESHOLDS, Thresholds
from netspectra.merge.inputs import MAX_MODELS
from netspectra.merge.patterns import RegexClock, check_pattern
from netspectra.merge.registry import METHOD_NAMES, MethodParams, get_method, parameter_table
from netspectra.merge.settings import Setting, evaluate, leaves, parse_setting, to_plain, varies
from netspectra.rmt.marchenko_pastur import TW1_QUANTILES

#: Every method name (underscores are accepted for hyphens; mergekit's names are aliases).
METHODS = METHOD_NAMES

_DTYPE_ALIASES = {"FP64": "F64", "FP32": "F32", "FP16": "F16", "BFLOAT16": "BF16"}

#: Largest merge configuration read (a real one is a few KB).
MAX_CONFIG_BYTES = 1 << 20


def parse_method(name: object) -> str:
    """Canonical method name (``task_arithmetic`` -> ``task-arithmetic``; mergekit's names are aliases)."""
    return get_method(name).name


def parse_dtype(name: object) -> str:
    """Stored dtype of an output dtype name: F32/F16/BF16/F64, float32, bfloat16, bf16, half, ..."""
    text = str(name).strip()
    upper = _DTYPE_ALIASES.get(text.upper(), text.upper())
    dtype = upper if upper in COMPRESSIBLE_DTYPES else dtypes.from_torch(text.lower())
    if dtype not in COMPRESSIBLE_DTYPES:
        raise UsageError(f"unsupported output dtype {_short(name)}; expected one of {', '.join(COMPRESSIBLE_DTYPES)}")
    return dtype


@dataclass(frozen=True)
class ModelSpec:
    """One model to merge, its weight, and its own values of per-model parameters (settings, which may
    vary over tensors; ``weight`` among them when it does)."""

    path: str
    weight: float = 1.0
    params: Mapping[str, Setting] = field(default_factory=dict)


@dataclass(frozen=True)
class Override:
    """Per-layer settings for tensors whose name matches ``pattern`` (``regex.search``)."""

    pattern: str
    method: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    weights: tuple[float, ...] | None = None

    def matches(self, name: str, clock: RegexClock | None = None) -> bool:
        """``regex.search`` of the pattern in ``name``, given at most :data:`REGEX_SECONDS` (and what is left
        of the merge's matching time on ``clock``).

        Raises
        ------
        UsageError
            When the search takes longer: a pattern that backtracks catastrophically (``(a|aa)+$``)
            would otherwise hang the merge on a long name.
        """
        return (clock or RegexClock()).search(self.pattern, name)


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
        """Validate a parsed configuration (this package's schema or mergekit's); relative paths are taken
        relative to ``base_dir``.

        Raises
        ------
        UsageError
            For a missing or unknown key, a value of the wrong type or range, an invalid or oversized
            regular expression, too many models, a weights list of the wrong length, or a method that needs
            a base without one or merges another number of models.
        """
        if not isinstance(data, dict):
            raise UsageError("merge configuration must be a mapping")
        if mergekit.is_mergekit(data):
            data = mergekit.translate(data)
        allowed = {"base_model", "models", "method", "parameters", "overrides", "dtype", "thresholds"}
        unknown = sorted(set(data) - allowed, key=str)
        if unknown:
            raise UsageError(f"unknown configuration key {_short(unknown[0])}; expected {', '.join(sorted(allowed))}")
        for key in ("models", "method"):
            if key not in data:
                raise UsageError(f"merge configuration needs {_short(key)}")
        root = Path(base_dir) if base_dir is not None else None
        entries = _list(data["models"], "models")
        if len(entries) > MAX_MODELS:
            raise UsageError(f"models: {len(entries)} models, more than the {MAX_MODELS} one merge takes")
        models = tuple(_model_spec(entry, i, root) for i, entry in enumerate(entries))
        base = data.get("base_model")
        base = _path(base, "base_model", root) if base is not None else None
        params = MethodParams().updated(_settings(data.get("parameters") or {}, "parameters"), "parameters")
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
        config._check_methods()
        return config

    def _check_methods(self) -> None:
        """Every method used (top level and overrides): its base, its number of models, its weights."""
        uses = [("models", self.method, self.weights)]
        uses += [(f"overrides[{i}]", o.method or self.method, o.weights or self.weights) for i, o in enumerate(self.overrides)]
        for where, name, weights in uses:
            method = get_method(name)
            if method.needs_base and self.base_model is None:
                raise UsageError(f"method {name} merges task vectors and needs base_model")
            method.check_models(len(self.models), where)
            if method.weighted_mean and sum(weights) == 0:
                raise UsageError(f"{where}: the weights sum to zero, which {name} cannot normalise")

    @property
    def weights(self) -> tuple[float, ...]:
        return tuple(m.weight for m in self.models)

    def planner(self, names: Sequence[str] = ()) -> Planner:
        """The plans of one merge of the tensors ``names`` (their layer indices give the depth of gradients),
        with one matching-time budget (:class:`~netspectra.merge.patterns.RegexClock`)."""
        return Planner(self, names)

    def plan(self, name: str) -> LayerPlan:
        """Method, parameters and weights for tensor ``name``: the first matching override, else the
        top-level settings (a gradient is read at depth 0: use :meth:`planner` for a whole model)."""
        return self.planner().plan(name)

    def to_dict(self) -> dict[str, object]:
        """The configuration as a plain dict (the schema of :func:`load_config`)."""
        out: dict[str, object] = {
            "base_model": self.base_model,
            "models": [_model_dict(m) for m in self.models],
            "method": self.method,
            "parameters": self.params.to_dict(),
            "overrides": [
                {
                    "match": o.pattern,
                    "method": o.method,
                    "parameters": {k: to_plain(v) for k, v in o.params.items()},
                    "weights": list(o.weights) if o.weights else None,
                }
                for o in self.overrides
            ],
            "dtype": self.dtype,
            "thresholds": self.thresholds.to_dict(),
        }
        return out


#: A layer index in a tensor name: a path component that is a number (``model.layers.12.mlp.weight``).
_LAYER_INDEX = re.compile(r"(?:^|\.)(\d{1,9})(?=\.|$)")


def layer_depths(names: Sequence[str]) -> dict[str, float]:
    """Relative depth t in [0, 1] of each tensor with a layer index (first numeric path component):
    (i - i_min) / (i_max - i_min), 1 when all tensors are in one layer; tensors without an index are not
    listed (depth 0: embeddings and heads, as mergekit)."""
    found = {name: int(m.group(1)) for name in names if (m := _LAYER_INDEX.search(name))}
    if not found:
        return {}
    low, high = min(found.values()), max(found.values())
    return {name: (i - low) / (high - low) if high > low else 1.0 for name, i in found.items()}


class Planner:
    """The plans of one merge: overrides matched within one time budget, settings read at each tensor's
    depth."""

    def __init__(self, config: MergeConfig, names: Sequence[str] = ()) -> None:
        self.config = config
        self.clock = RegexClock()
        self.depths = layer_depths(names)
        self._override_params = [config.params.updated(o.params, f"override {_short(o.pattern)}") for o in config.overrides]
        self._per_model = any(m.params for m in config.models)

    def plan(self, name: str) -> LayerPlan:
        """Method, parameters (every setting evaluated for ``name``) and weights of tensor ``name``.

        Raises
        ------
        UsageError
            An override pattern past its time bound, or a setting whose value here is out of range.
        """
        config = self.config
        method, params, weights, reason = config.method, config.params, None, "method"
        for override, override_params in zip(config.overrides, self._override_params):
            if override.matches(name, self.clock):
                method, params, weights = override.method or config.method, override_params, override.weights
                reason = f"override {override.pattern}"
                break
        if weights is None:
            weights = tuple(self._weight(m, name) for m in config.models)
        if self._per_model or any(varies(v) for v in params.values()):
            params = self._evaluated(params, name)
        return LayerPlan(method, params, weights, reason)

    def _weight(self, model: ModelSpec, name: str) -> float:
        setting = model.params.get("weight")
        value = evaluate(setting, name, self.depths.get(name, 0.0)) if setting is not None else None
        return model.weight if value is None else float(value)  # type: ignore[arg-type]

    def _evaluated(self, params: MethodParams, name: str) -> MethodParams:
        t = self.depths.get(name, 0.0)
        values = {key: evaluate(value, name, t) for key, value in params.items() if varies(value)}
        for key in {k for m in self.config.models for k in m.params if k != "weight"}:
            shared = values.get(key, params[key])
            per_model = [evaluate(m.params[key], name, t) if key in m.params else None for m in self.config.models]
            values[key] = tuple(shared if v is None else v for v in per_model)
        return params.updated(values, f"tensor {_short(name)}")


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


_short = short_repr


def _model_dict(model: ModelSpec) -> dict[str, object]:
    out: dict[str, object] = {"path": model.path, "weight": model.weight}
    if model.params:
        out["parameters"] = {k: to_plain(v) for k, v in model.params.items()}
    return out


def _settings(mapping: object, where: str) -> dict[str, Setting]:
    """Parameter settings (scalars, gradients, conditions) of a ``parameters`` mapping, by name."""
    if not isinstance(mapping, dict):
        raise UsageError(f"{where}: parameters must be a mapping")
    return {key: parse_setting(value, f"{where}.{key}") for key, value in mapping.items()}


def _model_spec(entry: object, i: int, root: Path | None) -> ModelSpec:
    if isinstance(entry, str):
        return ModelSpec(_path(entry, f"models[{i}]", root))
    if not isinstance(entry, dict) or "path" not in entry:
        raise UsageError(f"models[{i}] must be a path or a mapping with 'path' (and 'weight')")
    unknown = sorted(set(entry) - {"path", "weight", "parameters"}, key=str)
    if unknown:
        raise UsageError(f"models[{i}]: unknown key {_short(unknown[0])}; expected path, weight, parameters")
    weight = _number(entry.get("weight", 1.0), f"models[{i}].weight")
    where = f"models[{i}].parameters"
    params = _settings(entry.get("parameters") or {}, where)
    table = parameter_table()
    for key, setting in params.items():
        if key == "weight":
            for value in leaves(setting):
                _number(value, f"{where}.weight")
            continue
        parameter = table.get(key)
        if parameter is None or not parameter.per_model:
            per_model = sorted(p.name for p in table.values() if p.per_model)
            raise UsageError(f"{where}: {_short(key)} is not a per-model parameter; expected weight, {', '.join(per_model)}")
        parameter.check(setting, where)
    return ModelSpec(_path(entry["path"], f"models[{i}].path", root), weight, params)


def _override(entry: object, i: int, num_models: int) -> Override:
    where = f"overrides[{i}]"
    if not isinstance(entry, dict) or "match" not in entry:
        raise UsageError(f"{where} must be a mapping with 'match' (a regular expression)")
    unknown = sorted(set(entry) - {"match", "method", "parameters", "weights"}, key=str)
    if unknown:
        raise UsageError(f"{where}: unknown key {_short(unknown[0])}; expected match, method, parameters, weights")
    pattern = entry["match"]
    check_pattern(pattern, where)
    params = _settings(entry.get("parameters") or {}, where)
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
