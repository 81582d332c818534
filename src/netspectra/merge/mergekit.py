"""mergekit's configuration format, read as it is and translated into this package's schema.

A configuration with ``merge_method`` is a mergekit one (Goddard et al., "Arcee's MergeKit: A Toolkit for
Merging Large Language Models", EMNLP 2024, industry track)::

    models:
      - model: ./ft-a
        parameters: {weight: 0.5, density: 0.5}
      - model: ./ft-b
        parameters: {weight: [0, 0.3, 1], density: 0.5}     # settings may vary over layers and names
    merge_method: dare_ties
    base_model: ./base
    parameters: {normalize: true, int8_mask: true, lambda: 1.0}
    dtype: float16

What changes in the translation, so that a merge means what it means in mergekit:

* ``merge_method`` names a method of the registry (mergekit's spelling is an alias); ``lambda`` is
  ``scale``; ``int8_mask`` (the dtype of a mask, no effect on values) is dropped; ``rescale: true`` /
  ``false`` is ``l1`` / ``none``; mergekit's defaults that differ from ours are set (``density: 1``).
* A model listed that is the base is the base, as in mergekit (task-vector methods do not take it as a
  model); for ``slerp`` the base is the first of the two models (t = 0), for ``linear`` (which ignores
  bases) a base not listed is added as a model, both as mergekit does.
* A ``weight`` in the top-level ``parameters`` is the weight of every model that has none.
* ``out_dtype`` (else ``dtype``) is the output dtype; the computation is float64 (mergekit computes in
  ``dtype``), so results agree to the rounding of that dtype.
* ``chat_template`` and ``tokenizer_source: base`` do not concern the weights and are ignored; other
  tokenizer settings, ``slices`` and ``modules`` (layer stacking) are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netspectra.constraints import short_repr
from netspectra.errors import UsageError
from netspectra.merge.registry import get_method

#: The keys of a mergekit configuration that this reads.
KEYS = (
    "merge_method",
    "models",
    "base_model",
    "parameters",
    "dtype",
    "out_dtype",
    "tokenizer_source",
    "tokenizer",
    "chat_template",
)
#: Keys of mergekit configurations that describe something other than a whole-model merge.
REFUSED = ("slices", "modules")
#: mergekit parameter names that are spelled otherwise here.
RENAMED = {"lambda": "scale"}
#: mergekit parameters without effect on the merged values.
DROPPED = ("int8_mask",)


def is_mergekit(data: dict[str, Any]) -> bool:
    """Whether a parsed configuration is in mergekit's format (it has ``merge_method``)."""
    return "merge_method" in data


def translate(data: dict[str, Any]) -> dict[str, Any]:
    """The configuration in this package's schema (:mod:`netspectra.merge.config`); see the module docstring.

    Raises
    ------
    UsageError
        An unknown key, ``slices``/``modules``, tokenizer merging, an unknown method, a model entry
        without ``model``.
    """
    for key in data:
        if key in REFUSED:
            raise UsageError(f"{key}: netspectra merges whole models; write the mergekit 'models:' form instead of {key!r}")
        if key not in KEYS:
            raise UsageError(f"unknown mergekit configuration key {short_repr(key)}; expected {', '.join(KEYS)}")
    if data.get("tokenizer") is not None or data.get("tokenizer_source") not in (None, "base"):
        raise UsageError("tokenizer merging is not supported: the models must share one vocabulary (tokenizer_source: base)")
    method = get_method(data["merge_method"])
    base = data.get("base_model")
    params = _parameters(data.get("parameters") or {}, "parameters")
    default_weight = params.pop("weight", None)
    entries = data.get("models")
    if not isinstance(entries, list):
        raise UsageError("models must be a list of {model, parameters}")
    models = [_model(entry, i, default_weight) for i, entry in enumerate(entries)]
    listed = [m["path"] for m in models]
    if method.base == "unused":
        if method.name == "slerp" and base is not None:
            first = next((m for m in models if m["path"] == base), {"path": base})
            models = [first] + [m for m in models if m["path"] != base]
        elif base is not None and base not in listed:
            models.append(_with_weight({"path": base}, {}, default_weight))
        base = None
    elif base is not None:
        models = [m for m in models if m["path"] != base]
    for key, value in method.mergekit_defaults.items():
        params.setdefault(key, value)
    out: dict[str, Any] = {"models": models, "method": method.name, "parameters": params}
    if base is not None:
        out["base_model"] = base
    dtype = data.get("out_dtype") or data.get("dtype")
    if dtype is not None:
        out["dtype"] = dtype
    return out


def _model(entry: object, i: int, default_weight: object) -> dict[str, Any]:
    where = f"models[{i}]"
    if not isinstance(entry, dict) or "model" not in entry:
        raise UsageError(f"{where} must be a mapping with 'model' (and 'parameters')")
    unknown = sorted(set(entry) - {"model", "parameters"}, key=str)
    if unknown:
        raise UsageError(f"{where}: unknown key {short_repr(unknown[0])}; expected model, parameters")
    if not isinstance(entry["model"], str):
        raise UsageError(f"{where}.model must be a path, got {short_repr(entry['model'])}")
    params = _parameters(entry.get("parameters") or {}, f"{where}.parameters")
    return _with_weight({"path": entry["model"]}, params, params.pop("weight", default_weight))


def _with_weight(model: dict[str, Any], params: dict[str, Any], weight: object) -> dict[str, Any]:
    """A model entry of our schema: a numeric weight as ``weight``, one that varies among its parameters."""
    if isinstance(weight, (int, float)) and not isinstance(weight, bool):
        model["weight"] = weight
    elif weight is not None:
        params = {**params, "weight": weight}
    if params:
        model["parameters"] = params
    return model


def _parameters(mapping: object, where: str) -> dict[str, Any]:
    """mergekit parameters in our names and values (``lambda`` -> ``scale``, ``rescale`` bools -> names)."""
    if not isinstance(mapping, dict):
        raise UsageError(f"{where} must be a mapping")
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if key in DROPPED:
            continue
        name = RENAMED.get(key, key)
        out[name] = _map_values(value, _rescale) if name == "rescale" else value
    return out


def _rescale(value: object) -> object:
    return {True: "l1", False: "none"}.get(value, value) if isinstance(value, bool) else value  # type: ignore[call-overload]


def _map_values(setting: object, change: Callable[[object], object]) -> object:
    """``setting`` (a value, a list, or conditions) with ``change`` applied to every value."""
    if isinstance(setting, list):
        return [_map_values(s, change) for s in setting]
    if isinstance(setting, dict):
        return {k: _map_values(v, change) if k == "value" else v for k, v in setting.items()}
    return change(setting)
