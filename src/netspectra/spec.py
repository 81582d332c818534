"""One analysis request: which layers, how their spectra are computed, how they are fitted.

An :class:`AnalysisSpec` is what every entry point takes (:func:`netspectra.analyze`,
:func:`netspectra.analyze_many`, the results store, compare, track, the command line); the keyword
arguments those functions still accept (``include=``, ``options=``, ``backend=``, ...) build one with
:meth:`AnalysisSpec.of`.  Its :meth:`~AnalysisSpec.identity` is the identity of a stored run: two
requests with the same identity produce the same rows.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar, TypedDict, Unpack

from netspectra.constraints import Constraint, Kind, check_constraints
from netspectra.diagnose.options import AnalysisOptions
from netspectra.errors import UsageError
from netspectra.io.selection import LayerSelection
from netspectra.linalg import SpectrumOptions


class SpecKeywords(TypedDict, total=False):
    """The keyword form of an :class:`AnalysisSpec`, accepted by every entry point instead of ``spec``.

    include, exclude : str
        Regular expressions searched in the tensor names: analyze only matching / skip matching tensors.
    min_dim, max_dim : int
        Keep matrices whose smaller dimension is >= ``min_dim`` (default 1) and larger one <= ``max_dim``.
    min_evals, max_evals : int
        Keep matrices with at least / at most this many eigenvalues (M, times k for a pooled conv stack).
    layers : sequence of int
        Keep the matrices at these positions of the model (0, 1, ...: ``netspectra describe``'s ``layer_index``).
    kinds : sequence of str
        Keep matrices of these kinds (``linear``, ``embedding``, ``conv2d``, ...).
    pool : bool
        False: a conv kernel's k matrices one by one (WeightWatcher's ``pool=False``); default True, pooled.
    ww_compat : bool
        WeightWatcher 0.7.7's conventions: its tail fit (``AnalysisOptions.ww_compat``) and, unless given, its
        layer filters (``min_evals`` 8, ``max_evals`` 15,000, ``max_dim`` 50,000: :data:`WW_SELECTION`).
    options : AnalysisOptions
        Fit settings.
    backend : {"auto", "dense", "torch", "lanczos", "randomized", "refined"}
        Eigenvalue backend (:func:`netspectra.linalg.choose_backend`).
    tail_only : int
        Fit the power law on the top K eigenvalues of each layer only (:mod:`netspectra.diagnose.tail`).
    spectrum_options : SpectrumOptions
        ``backend`` and ``tail_only`` as one object (not together with them).
    """

    include: str | None
    exclude: str | None
    min_dim: int | None
    max_dim: int | None
    min_evals: int | None
    max_evals: int | None
    layers: tuple[int, ...] | list[int] | None
    kinds: tuple[str, ...] | list[str] | None
    pool: bool | None
    ww_compat: bool | None
    options: AnalysisOptions | None
    backend: str | None
    tail_only: int | None
    spectrum_options: SpectrumOptions | None


#: WeightWatcher 0.7.7's layer filters (``DEFAULT_MIN_EVALS``, ``DEFAULT_MAX_EVALS``, ``DEFAULT_MAX_N``), the
#: selection of ``ww_compat=True`` where not given.
WW_SELECTION = {"min_evals": 8, "max_evals": 15_000, "max_dim": 50_000}

#: Settings that joined a run's identity after stores existed: they enter it only when they differ
#: from their defaults, so that runs stored before keep their identity.
_LATER_SETTINGS = {
    "depth_tw_level": AnalysisOptions.depth_tw_level,
    "backend": "auto",
    "tail_only": None,
    **{name: getattr(LayerSelection, name) for name in ("min_evals", "max_evals", "layers", "kinds", "pool")},
    **{
        name: getattr(AnalysisOptions, name)
        for name in ("ww_compat", "fix_fingers", "max_fingers", "finger_thresh", "fit", "vectors")
    },
}


@dataclass(frozen=True)
class AnalysisSpec:
    """Layer selection, fit options and spectrum options of one analysis.

    Attributes
    ----------
    selection : LayerSelection
        Name patterns and dimension bounds of the layers analyzed.
    fit : AnalysisOptions
        Tail fit, Tracy–Widom levels and whether the RMT-depth columns are computed.
    spectrum : SpectrumOptions
        Eigenvalue backend and ``tail_only``.
    """

    selection: LayerSelection = LayerSelection()
    fit: AnalysisOptions = AnalysisOptions()
    spectrum: SpectrumOptions = SpectrumOptions()

    _constraints: ClassVar[dict[str, list[Constraint]]] = {
        "selection": [Kind(LayerSelection)],
        "fit": [Kind(AnalysisOptions)],
        "spectrum": [Kind(SpectrumOptions)],
    }

    def __post_init__(self) -> None:
        check_constraints(self)

    @classmethod
    def of(cls, **keywords: Unpack[SpecKeywords]) -> AnalysisSpec:
        """The spec of the keyword arguments of the entry points (:class:`SpecKeywords`; None: the default).

        Raises
        ------
        TypeError
            A keyword that is not one of :class:`SpecKeywords`.
        UsageError
            Invalid values, or ``spectrum_options`` together with ``backend``/``tail_only``.
        """
        unknown = sorted(set(keywords) - set(SpecKeywords.__annotations__))
        if unknown:
            raise TypeError(f"unexpected keyword argument {unknown[0]!r}")
        get = keywords.get
        spectrum_options = get("spectrum_options")
        if spectrum_options is not None and (get("backend") is not None or get("tail_only") is not None):
            raise UsageError("give spectrum_options or backend/tail_only, not both")
        ww = bool(get("ww_compat"))
        given = {
            name: get(name)
            for name in ("include", "exclude", "min_dim", "max_dim", "min_evals", "max_evals", "layers", "kinds", "pool")
            if get(name) is not None
        }
        selection = LayerSelection(**{**(WW_SELECTION if ww else {}), **given})  # type: ignore[arg-type]
        spectrum = spectrum_options or SpectrumOptions(backend=get("backend") or "auto", tail_only=get("tail_only"))
        fit = get("options") or AnalysisOptions()
        return cls(selection=selection, fit=replace(fit, ww_compat=True) if ww else fit, spectrum=spectrum)

    @classmethod
    def resolve(cls, spec: AnalysisSpec | None, **keywords: Unpack[SpecKeywords]) -> AnalysisSpec:
        """``spec`` itself, or the spec of the keyword arguments (:meth:`of`); both at once is an error."""
        if spec is None:
            return cls.of(**keywords)
        given = sorted(name for name, value in keywords.items() if value is not None)
        if given:
            raise UsageError(f"give an AnalysisSpec or {', '.join(given)}, not both")
        return spec

    def identity(self) -> dict[str, Any]:
        """Every setting that changes the rows of a run, as the dict stored in ``runs.options``.

        The settings of :data:`_LATER_SETTINGS` enter only where they differ from their defaults.
        """
        settings: dict[str, Any] = {**self.selection.settings(), **asdict(self.fit)}
        settings.update({f.name: getattr(self.spectrum, f.name) for f in fields(self.spectrum)})
        return {k: v for k, v in settings.items() if k not in _LATER_SETTINGS or v != _LATER_SETTINGS[k]}

    @staticmethod
    def describe(source: object) -> str:
        """What a report names its source: the path as given, or the type of a live object."""
        if isinstance(source, (str, os.PathLike)):
            return os.fspath(source)
        return type(source).__name__
