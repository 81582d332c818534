"""The actions of netspectra, one shape for all: ``verb(source, spec=None, *, ..., executor=None, workers=None,
progress=None, **keywords)``.

Every action reads its weights through the one pipeline (:mod:`netspectra.pipeline`): the layers that
``spec.selection`` keeps, analyzed with ``spec.fit`` and ``spec.spectrum`` (or the same settings given as
keywords: ``include=``, ``exclude=``, ``min_dim=``, ``max_dim=``, ``options=``, ...), run by ``executor``
(``local``: this process, small layers side by side in threads; ``process``; ``dask``; or an executor
object) with ``progress(done, total, name)`` called after each layer.  The verbs:

==============  ==================================================================================================
analyze         one model: a :class:`~netspectra.diagnose.model.ModelReport` (a row per weight matrix, a summary)
compare_models  two checkpoints layer by layer (:mod:`netspectra.compare`: ``compare`` names that package)
track           many checkpoints over training (:func:`netspectra.compare.track.track_checkpoints`)
compress        RMT low-rank denoising into a safetensors file (:func:`netspectra.denoise.model.compress_model`)
merge_check     spectral compatibility of models to merge (:func:`netspectra.merge.model.check_compatibility`)
prune           AlphaPruning's layer-wise sparsities (:func:`netspectra.act.pruning.plan_pruning` of the analysis)
select_layers   the matrices to fine-tune by SNR (:func:`netspectra.act.selection.plan_selection` of the analysis)
rank            models ranked by a data-free metric (:func:`netspectra.act.ranking.rank_models` of the analyses)
svd_sharpness   every matrix without its trap components (:func:`netspectra.denoise.sharpen_model.svd_sharpness`)
==============  ==================================================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Unpack

from netspectra.act.pruning import DEFAULT_RANGE, PruningOptions, PruningPlan, plan_pruning
from netspectra.act.ranking import DEFAULT_METRIC, Ranking, rank_models
from netspectra.act.selection import LayerSelectionPlan, plan_selection
from netspectra.compare.pair import compare_models
from netspectra.compare.track import track_checkpoints as track
from netspectra.denoise.model import compress_model as compress
from netspectra.denoise.sharpen_model import svd_sharpness
from netspectra.merge.model import check_compatibility as merge_check
from netspectra.pipeline import ProgressCallback, Source, analyze, analyze_many
from netspectra.spec import AnalysisSpec, SpecKeywords

if TYPE_CHECKING:
    from netspectra.scale.executor import Executor

__all__ = [
    "analyze",
    "compare_models",
    "compress",
    "merge_check",
    "prune",
    "rank",
    "select_layers",
    "svd_sharpness",
    "track",
]


def prune(
    source: Source,
    spec: AnalysisSpec | None = None,
    *,
    sparsity: float,
    ratio_range: tuple[float, float] = DEFAULT_RANGE,
    mapping: str = "block",
    xmin: str = "peak",
    uniform: bool = False,
    executor: str | Executor | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    **keywords: Unpack[SpecKeywords],
) -> PruningPlan:
    """Layer-wise pruning ratios of ``source`` at the mean ``sparsity``: :func:`~netspectra.act.pruning.plan_pruning`
    of its analysis (AlphaPruning, Lu et al., NeurIPS 2024, with the authors' defaults: block-wise ``mapping``,
    alpha_peak ``xmin``, ``ratio_range`` 1 -/+ 0.3; ``uniform``: every matrix in scope at ``sparsity``)."""
    PruningOptions(sparsity, ratio_range, mapping, xmin, uniform)  # a bad setting stops before the analysis
    report = analyze(source, spec, executor=executor, workers=workers, progress=progress, **keywords)
    return plan_pruning(report, sparsity, ratio_range, mapping=mapping, xmin=xmin, uniform=uniform)


def select_layers(
    source: Source,
    spec: AnalysisSpec | None = None,
    *,
    top: float,
    threshold: str = "mp-edge",
    per_type: bool = True,
    executor: str | Executor | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    **keywords: Unpack[SpecKeywords],
) -> LayerSelectionPlan:
    """The ``top`` fraction of the matrices of ``source`` (of each module type, unless ``per_type`` is False) by
    signal-to-noise above ``threshold``: :func:`~netspectra.act.selection.plan_selection` of its analysis."""
    report = analyze(source, spec, executor=executor, workers=workers, progress=progress, **keywords)
    return plan_selection(report, top, threshold, per_type=per_type)


def rank(
    sources: Sequence[Source],
    spec: AnalysisSpec | None = None,
    *,
    metric: str = DEFAULT_METRIC,
    accuracies: Mapping[str, float] | None = None,
    executor: str | Executor | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    **keywords: Unpack[SpecKeywords],
) -> Ranking:
    """``sources`` ranked by ``metric`` (their layers one task stream: :func:`netspectra.analyze_many`);
    ``accuracies`` (by source as given) adds each metric's Spearman rho with them
    (:func:`~netspectra.act.ranking.rank_models`)."""
    reports = analyze_many(sources, spec, executor=executor, workers=workers, progress=progress, **keywords)
    return rank_models(reports, metric, dict(accuracies) if accuracies is not None else None)
