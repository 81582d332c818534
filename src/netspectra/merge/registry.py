"""The merge methods: one record each (name, aliases, base, model count, typed parameters, citation, rule).

Adding a method is one :class:`MergeMethod` record in :data:`REGISTRY` (with its math in
:mod:`netspectra.merge.methods` and, where the generic rules do not fit, a layer rule in
:mod:`netspectra.merge.rules`): the configuration, the command line, the parameter checks and the docs
table read the records.

======================  ========  =====  ==================================================================
method                  base      models parameters
======================  ========  =====  ==================================================================
linear                  unused    >= 2   normalize
task-arithmetic         required  >= 2   scale, normalize
ties                    required  >= 2   density, scale, normalize
dare-linear, dare-ties  required  >= 2   density, rescale, seed, scale, normalize
della, della-linear     required  >= 2   density, epsilon, rescale, seed, scale, normalize
breadcrumbs(-ties)      required  >= 2   density, gamma, rescale, scale, normalize
star                    required  >= 2   eta, scale
tsv                     required  >= 2   k, scale
spectral-auto           optional  >= 2   eta, k, scale (and the thresholds)
slerp                   unused    2      t
nuslerp                 optional  2      nuslerp_flatten, nuslerp_row_wise (t from the two weights)
model-stock             required  >= 2   filter_wise
======================  ========  =====  ==================================================================

:class:`MethodParams` holds the parameter values of a configuration (any parameter of any method,
checked at construction); :meth:`MergeMethod.bind` picks a method's own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from netspectra.constraints import NONE, Constraint, Interval, OneOf, short_repr
from netspectra.errors import UsageError
from netspectra.merge import rules
from netspectra.merge.methods import RESCALES
from netspectra.merge.settings import leaves, to_plain

# ------------------------------------------------------------------------------------------ parameters


@dataclass(frozen=True)
class Parameter:
    """One typed parameter of a merge method.

    Attributes
    ----------
    name : str
        As written in a configuration (mergekit's name where mergekit has the parameter).
    default : object
        The method's default (records of several methods may differ here, nowhere else).
    accepts : tuple of Constraint
        The values allowed (:mod:`netspectra.constraints`); ``requirement`` says so in words.
    requirement : str
        ``"must lie in (0, 1]"``: the end of the error message ``"{where}: {name} {requirement}, got {value}"``.
    doc : str
        What the parameter does.
    per_model : bool
        May be given per model (a model's ``parameters``); the method then gets one value per model.
    """

    name: str
    default: object
    accepts: tuple[Constraint, ...]
    requirement: str
    doc: str
    per_model: bool = False

    def allows(self, value: object) -> bool:
        """Whether ``value`` (a scalar) is allowed."""
        try:
            return any(c.accepts(value) for c in self.accepts)
        except OverflowError:  # an integer beyond float range
            return False

    def check(self, setting: object, where: str) -> None:
        """Raise :class:`UsageError` unless every value ``setting`` can take (a scalar, a gradient, conditions,
        or a tuple of those, one per model) is allowed."""
        if isinstance(setting, tuple) and not self.per_model:
            raise UsageError(f"{where}: {self.name} is one value for all models, got {short_repr(setting)}")
        for value in leaves(setting):
            if not self.allows(value):
                raise UsageError(f"{where}: {self.name} {self.requirement}, got {short_repr(value)}")

    def same_kind(self, other: Parameter) -> bool:
        """Two declarations of one name must agree on everything but the default."""
        return replace(self, default=None) == replace(other, default=None)


_BOOL = (OneOf(True, False),)
_FRACTION = (Interval(float, 0.0, 1.0, closed="right"),)

_FINITE = (Interval(float, None, None),)
_YES_NO = "must be true or false"

SCALE = Parameter("scale", 1.0, _FINITE, "must be a finite number", "lambda, the factor of the merged task vector")
NORMALIZE = Parameter("normalize", True, _BOOL, _YES_NO, "divide the merged task vector by the sum of the weights")
DENSITY = Parameter(
    "density", 0.2, _FRACTION, "must lie in (0, 1]", "fraction of each task vector's entries kept (1: all)", per_model=True
)
RESCALE = Parameter(
    "rescale",
    "l1",
    (OneOf(*RESCALES),),
    f"must be one of {', '.join(RESCALES)}",
    "rescale the sparsified task vector: to its L1 norm (mergekit), by the inverse keep probability (the papers), or not",
)
SEED = Parameter(
    "seed", 0, (Interval(int, 0, 2**63 - 1),), "must be an integer >= 0", "seed of the random masks (with the tensor name)"
)
EPSILON = Parameter(
    "epsilon",
    0.15,
    (Interval(float, 0.0, 1.0, closed="left"),),
    "must lie in [0, 1)",
    "half-width of DELLA's keep probabilities density +/- epsilon",
    per_model=True,
)
GAMMA = Parameter(
    "gamma",
    0.01,
    (Interval(float, 0.0, 1.0),),
    "must lie in [0, 1]",
    "fraction of largest-magnitude entries (outliers) dropped",
    per_model=True,
)
ETA = Parameter(
    "eta",
    0.4,
    _FRACTION,
    "must lie in (0, 1] (a fraction: 0.4 keeps 40%)",
    "fraction of each task vector's nuclear norm STAR keeps",
)
K = Parameter(
    "k",
    None,
    (Interval(int, 1, None), NONE),
    "must be a positive integer or null",
    "singular vectors TSV keeps per task (null: min(rows, cols) / T)",
)
T = Parameter("t", 0.5, (Interval(float, 0.0, 1.0),), "must lie in [0, 1]", "position: 0 the first model, 1 the second")
FILTER_WISE = Parameter("filter_wise", False, _BOOL, _YES_NO, "Model Stock per row (last axis) instead of per tensor")
NUSLERP_FLATTEN = Parameter("nuslerp_flatten", True, _BOOL, _YES_NO, "interpolate whole tensors (else rows or columns)")
NUSLERP_ROW_WISE = Parameter("nuslerp_row_wise", False, _BOOL, _YES_NO, "unflattened: interpolate columns, not rows")


# ------------------------------------------------------------------------------------------ methods


@dataclass(frozen=True)
class MergeMethod:
    """One merge method.

    Attributes
    ----------
    name : str
        Canonical name (lower case, hyphens).
    rule : callable
        ``rule(LayerInputs) -> LayerOutcome``: merges one tensor (:mod:`netspectra.merge.rules`).
    base : {"required", "optional", "unused"}
        Whether the method needs ``base_model`` (task vectors), can use it, or ignores it.
    parameters : tuple of Parameter
    citation : str
        The paper (or the implementation) the method follows.
    summary : str
        The formula in one line.
    aliases : tuple of str
        Other accepted names (mergekit's spelling).
    models : (int, int or None)
        Fewest and most models (besides the base).
    weighted_mean : bool
        Divides by the sum of the model weights, so that weights summing to zero are refused.
    mergekit_defaults : mapping
        mergekit's defaults where they differ from ours: a mergekit configuration gets them.
    """

    name: str
    rule: Callable[[rules.LayerInputs], rules.LayerOutcome]
    base: Literal["required", "optional", "unused"]
    parameters: tuple[Parameter, ...]
    citation: str
    summary: str
    aliases: tuple[str, ...] = ()
    models: tuple[int, int | None] = (2, None)
    weighted_mean: bool = False
    mergekit_defaults: Mapping[str, object] = field(default_factory=dict)

    @property
    def needs_base(self) -> bool:
        return self.base == "required"

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    def bind(self, params: Mapping[str, Any], num_models: int) -> dict[str, Any]:
        """This method's parameter values from ``params`` (None: this method's default); per-model
        parameters as a tuple of ``num_models`` values."""
        bound: dict[str, Any] = {}
        for p in self.parameters:
            value = params.get(p.name)
            value = p.default if value is None else value
            if p.per_model:
                values = value if isinstance(value, tuple) else (value,) * num_models
                value = tuple(p.default if v is None else v for v in values)
            bound[p.name] = value
        return bound

    def check_models(self, count: int, where: str) -> None:
        """Raise :class:`UsageError` unless the method merges ``count`` models."""
        low, high = self.models
        if low <= count and (high is None or count <= high):
            return
        if low == high:
            raise UsageError(f"{where}: {self.name} merges exactly {_count(low)} models, got {count}")
        if count < low:
            raise UsageError(f"{where}: give at least {_count(low)} models to merge ({self.name})")
        raise UsageError(f"{where}: {self.name} merges at most {high} models, got {count}")


_TASK_SPARSE = (DENSITY, RESCALE, SEED, SCALE, replace(NORMALIZE, default=False))
_GTA_CITATION = "Goddard et al., EMNLP 2024 (mergekit's generalized task arithmetic)"
_DARE = 'Yu et al., "Language Models are Super Mario", ICML 2024'
_DELLA = 'Deep et al., "DELLA-Merging", arXiv:2406.11617 (2024)'
_BREADCRUMBS = 'Davari & Belilovsky, "Model Breadcrumbs", ECCV 2024'
_MERGEKIT_DENSITY = {"density": 1.0}
_BREADCRUMBS_PARAMETERS = (DENSITY, GAMMA, replace(RESCALE, default="none"), SCALE, replace(NORMALIZE, default=False))


def _sparsified(
    name: str,
    sparsifier: str,
    parameters: tuple[Parameter, ...],
    citation: str,
    summary: str,
    *,
    alias: str | None = None,
    consensus: bool = False,
) -> MergeMethod:
    """A sparsify-then-combine method (:func:`netspectra.merge.rules.sparsified`; TIES' sign election when
    ``consensus``): task vectors of a required base, and mergekit's density 1 where a mergekit configuration
    gives none."""
    return MergeMethod(
        name,
        rules.sparsified(sparsifier, consensus=consensus),
        "required",
        parameters,
        citation,
        summary,
        aliases=(alias,) if alias else (),
        mergekit_defaults=_MERGEKIT_DENSITY,
    )


#: Every merge method, in the order of the docs.
REGISTRY: tuple[MergeMethod, ...] = (
    MergeMethod(
        "linear",
        rules.linear,
        "unused",
        (NORMALIZE,),
        'Wortsman et al., "Model soups", ICML 2022',
        "sum_i w_i M_i / sum_i w_i",
        weighted_mean=True,
    ),
    MergeMethod(
        "task-arithmetic",
        rules.task_arithmetic,
        "required",
        (SCALE, replace(NORMALIZE, default=False)),
        'Ilharco et al., "Editing models with task arithmetic", ICLR 2023',
        "B + lambda sum_i w_i tau_i",
        aliases=("task_arithmetic",),
    ),
    MergeMethod(
        "ties",
        rules.ties,
        "required",
        (DENSITY, SCALE, NORMALIZE),
        'Yadav et al., "TIES-Merging", NeurIPS 2023',
        "B + lambda disjoint mean of the trimmed, sign-elected tau_i",
        weighted_mean=True,
        mergekit_defaults=_MERGEKIT_DENSITY,
    ),
    _sparsified("dare-linear", "dare", _TASK_SPARSE, _DARE, "B + lambda sum_i w_i DARE(tau_i)", alias="dare_linear"),
    _sparsified(
        "dare-ties",
        "dare",
        _TASK_SPARSE,
        f"{_DARE}; sign election of TIES",
        "B + lambda sign-elected sum of w_i DARE(tau_i)",
        alias="dare_ties",
        consensus=True,
    ),
    _sparsified(
        "della",
        "della",
        (DENSITY, EPSILON, RESCALE, SEED, SCALE, NORMALIZE),
        _DELLA,
        "B + lambda sign-elected mean of w_i MagPrune(tau_i)",
        consensus=True,
    ),
    _sparsified(
        "della-linear",
        "della",
        (DENSITY, EPSILON, RESCALE, SEED, SCALE, replace(NORMALIZE, default=False)),
        _DELLA,
        "B + lambda sum_i w_i MagPrune(tau_i)",
        alias="della_linear",
    ),
    _sparsified("breadcrumbs", "breadcrumbs", _BREADCRUMBS_PARAMETERS, _BREADCRUMBS, "B + lambda sum_i w_i Breadcrumbs(tau_i)"),
    _sparsified(
        "breadcrumbs-ties",
        "breadcrumbs",
        _BREADCRUMBS_PARAMETERS,
        f"{_BREADCRUMBS}; sign election of TIES",
        "B + lambda sign-elected sum of w_i Breadcrumbs(tau_i)",
        alias="breadcrumbs_ties",
        consensus=True,
    ),
    MergeMethod(
        "star",
        rules.star_tsv_auto,
        "required",
        (ETA, SCALE),
        'Lee et al., "STAR: Spectral Truncation and Rescale for Model Merging", NAACL 2025',
        "B + lambda sum_i w^_i S_eta(tau_i)",
        weighted_mean=True,
    ),
    MergeMethod(
        "tsv",
        rules.star_tsv_auto,
        "required",
        (K, SCALE),
        'Gargiulo et al., "Task Singular Vectors", CVPR 2025',
        "B + lambda polar(U) diag(T w^_i Sigma_i,k) polar(V)^T",
        weighted_mean=True,
    ),
    MergeMethod(
        "spectral-auto",
        rules.star_tsv_auto,
        "optional",
        (ETA, K, SCALE),
        "this package (a heuristic over the compatibility check)",
        "average, STAR or TSV per layer",
        weighted_mean=True,
    ),
    MergeMethod(
        "slerp",
        rules.slerp,
        "unused",
        (T,),
        'Shoemake, "Animating rotation with quaternion curves", SIGGRAPH 1985',
        "sin((1 - t) theta) / sin theta M_1 + sin(t theta) / sin theta M_2",
        models=(2, 2),
    ),
    MergeMethod(
        "nuslerp",
        rules.nuslerp,
        "optional",
        (NUSLERP_FLATTEN, NUSLERP_ROW_WISE),
        _GTA_CITATION.replace("generalized task arithmetic", "NuSLERP"),
        "[B +] slerp(w_2 / (w_1 + w_2), M_1 [- B], M_2 [- B]) per tensor, row or column",
        models=(2, 2),
    ),
    MergeMethod(
        "model-stock",
        rules.model_stock,
        "required",
        (FILTER_WISE,),
        'Jang et al., "Model Stock: All we need is just a few fine-tuned models", ECCV 2024',
        "t mean_i M_i + (1 - t) B, t = N cos / (1 + (N - 1) cos)",
        aliases=("model_stock",),
    ),
)

#: Canonical method names, in the order of :data:`REGISTRY`.
METHOD_NAMES = tuple(m.name for m in REGISTRY)


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-")


@functools.cache
def _by_name() -> dict[str, MergeMethod]:
    table: dict[str, MergeMethod] = {}
    for method in REGISTRY:
        for name in (method.name, *method.aliases):
            if table.get(_key(name), method) is not method:
                raise RuntimeError(f"merge method name {name!r} is registered twice")
            table[_key(name)] = method
    return table


def get_method(name: object) -> MergeMethod:
    """The method named ``name`` (canonical name or alias; case, ``_`` and ``-`` do not matter).

    Raises
    ------
    UsageError
        An unknown name, with the list of known ones.
    """
    method = _by_name().get(_key(name)) if isinstance(name, str) else None
    if method is None:
        raise UsageError(f"unknown merge method {short_repr(name)}; expected one of {', '.join(METHOD_NAMES)}")
    return method


@functools.cache
def parameter_table() -> dict[str, Parameter]:
    """Every parameter of every method by name; the default is the one all methods share, else None
    (each method's own).

    Raises
    ------
    RuntimeError
        Two methods declare one name with different types, ranges or scopes (a registry bug).
    """
    table: dict[str, Parameter] = {}
    for method in REGISTRY:
        for p in method.parameters:
            known = table.get(p.name)
            if known is None:
                table[p.name] = p
            elif not known.same_kind(p):
                raise RuntimeError(f"parameter {p.name!r} of {method.name} differs from another method's declaration")
            elif known.default != p.default:
                table[p.name] = replace(known, default=None)
    return table


# ------------------------------------------------------------------------------------------ values


class MethodParams(Mapping[str, Any]):
    """The parameter values of a configuration: every parameter of every method (None: each method's default).

    Each value is checked at construction against its :class:`Parameter` (type and range; a setting that
    varies over tensors, :mod:`netspectra.merge.settings`, in every value it can take; a per-model
    parameter may be a tuple, one value per model).  Read as ``params.density`` or ``params["density"]``.

    >>> MethodParams(density=5.0)
    Traceback (most recent call last):
    ...
    netspectra.errors.UsageError: MethodParams: density must lie in (0, 1], got 5.0

    Raises
    ------
    UsageError
        An unknown parameter, or a value out of its range: one line naming the field and the range.
    """

    __slots__ = ("_values",)

    def __init__(self, **values: Any) -> None:
        self._values = _checked(values, "MethodParams")

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MethodParams) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __repr__(self) -> str:
        return "MethodParams(" + ", ".join(f"{k}={v!r}" for k, v in self._values.items() if v is not None) + ")"

    def updated(self, mapping: object, where: str) -> MethodParams:
        """A copy with the entries of ``mapping`` (checked; ``where`` names the place in errors)."""
        if not isinstance(mapping, dict):
            raise UsageError(f"{where}: parameters must be a mapping")
        out = MethodParams.__new__(MethodParams)
        out._values = {**self._values, **_checked(mapping, where, defaults=False)}
        return out

    def to_dict(self) -> dict[str, object]:
        """The values that are set (not None), as YAML/JSON values."""
        return {k: to_plain(v) for k, v in self._values.items() if v is not None}


def _checked(values: Mapping[str, Any], where: str, *, defaults: bool = True) -> dict[str, Any]:
    table = parameter_table()
    unknown = sorted((k for k in values if k not in table), key=str)
    if unknown:
        raise UsageError(f"{where}: unknown parameter {short_repr(unknown[0])}; expected {', '.join(sorted(table))}")
    for name, value in values.items():
        if value is not None:  # None: the method's default
            table[name].check(value, where)
    out = {name: p.default for name, p in table.items()} if defaults else {}
    out.update(values)
    return out


def _count(n: int) -> str:
    return ("zero", "one", "two", "three", "four")[n] if n < 5 else str(n)
