"""Spectra over training: from a series of checkpoints, or live from a model during training.

Every recorded step analyzes each weight matrix once (:func:`netspectra.analyze`) and reads the tracked
quantities of :mod:`netspectra.compare.dynamics` from the rows' columns.  With a results
store, each step is also a run in the store (``step`` and ``label`` set), so a trajectory survives the
training process (:func:`trajectory_from_store`) and re-tracking unchanged checkpoints reuses them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Unpack

from netspectra.compare.checkpoints import find_checkpoints
from netspectra.compare.dynamics import TrackPoint, track_point
from netspectra.compare.temperature import top_eigenvalues
from netspectra.diagnose.model import ModelReport
from netspectra.pipeline import ProgressCallback, analyze, analyze_many
from netspectra.report.export import write_csv
from netspectra.report.shown import Shown
from netspectra.scale.executor import Executor
from netspectra.spec import AnalysisSpec, SpecKeywords
from netspectra.store import Store, analyze_into_store

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass(frozen=True, repr=False)
class Trajectory(Shown):
    """Tracked quantities of every layer at every recorded step (long format: one point per pair), and each
    point's top eigenvalues (descending, :data:`~netspectra.compare.temperature.TOP_KEPT` at most; for
    :func:`~netspectra.compare.temperature.noise_temperature`)."""

    points: tuple[TrackPoint, ...]
    top_eigenvalues: tuple[np.ndarray, ...] = field(default=(), repr=False, compare=False)
    shown_as: ClassVar[str] = "trajectory"

    @classmethod
    def of(cls, reports: Iterable[tuple[ModelReport, int]]) -> Trajectory:
        """The trajectory of analyzed checkpoints, each with its step."""
        pairs = [
            (track_point(layer, step, report.source), top_eigenvalues(layer))
            for report, step in reports
            for layer in report.layers
        ]
        return cls(tuple(p for p, _ in pairs), tuple(t for _, t in pairs))

    @property
    def steps(self) -> list[int]:
        """The recorded steps, ascending."""
        return sorted({p.step for p in self.points})

    def to_frame(self) -> pd.DataFrame:
        """One row per (step, layer), columns :meth:`TrackPoint.columns`."""
        import pandas as pd

        return pd.DataFrame([p.to_dict() for p in self.points], columns=TrackPoint.columns())

    def write_csv(self, path: str | Path) -> Path:
        """Write the rows of :meth:`to_frame` to a CSV file atomically (:func:`netspectra.report.export.write_csv`)."""
        return write_csv(path, TrackPoint.columns(), [p.to_dict() for p in self.points])


def track_checkpoints(
    paths: Sequence[str | Path],
    spec: AnalysisSpec | None = None,
    *,
    store: Store | None = None,
    executor: str | Executor | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    **keywords: Unpack[SpecKeywords],
) -> Trajectory:
    """Track spectra over checkpoint files or directories (or one directory of them), in step order.

    Checkpoints are found and ordered by :func:`netspectra.compare.checkpoints.find_checkpoints` and
    analyzed with ``spec`` (or its keywords, as in :func:`netspectra.analyze`), their layers one task
    stream of ``executor`` (:func:`netspectra.analyze_many`), so no worker idles between checkpoints.
    With a ``store``, each checkpoint goes through :func:`netspectra.store.analyze_into_store` (a
    checkpoint already analyzed with the same spec is read back, not recomputed).  ``progress`` is told
    of each layer.
    """
    spec = AnalysisSpec.resolve(spec, **keywords)
    checkpoints = find_checkpoints(paths)
    sources = [ckpt.path for ckpt in checkpoints]
    if store is None:
        reports = analyze_many(sources, spec, executor=executor, workers=workers, progress=progress)
    else:
        run = dict(executor=executor, workers=workers, progress=progress)
        reports = [analyze_into_store(c.path, store, spec, step=c.step, **run).report for c in checkpoints]
    return Trajectory.of((report, ckpt.step) for ckpt, report in zip(checkpoints, reports))


def trajectory_from_store(store: Store, label: str) -> Trajectory:
    """The trajectory a :class:`SpectraTracker` with this ``label`` wrote to ``store`` (complete runs)."""
    runs = sorted((r for r in store.list_runs() if r.label == label and r.status == "complete"), key=lambda r: r.step)
    return Trajectory.of((store.load_report(run.id), run.step) for run in runs)


class SpectraTracker:
    """Record the spectra of a live ``torch.nn.Module`` every ``every`` steps of training.

    >>> tracker = SpectraTracker(model, every=100)                  # doctest: +SKIP
    >>> for step, batch in enumerate(loader):                       # doctest: +SKIP
    ...     tracker.step(step)  # records at steps 0, 100, 200, ...
    ...     train_step(batch)
    >>> tracker.trajectory.to_frame()                               # doctest: +SKIP

    Parameters
    ----------
    model : torch.nn.Module
        Analyzed in place with :func:`netspectra.analyze` (parameters are copied to CPU, not changed).
    every : int
        Record when ``step % every == 0``; a step equal to the last recorded one is skipped (gradient
        accumulation calls a hook several times per optimizer step).
    store : Store, optional
        Also write each recorded step as a run (``step``, ``label``) to this results store.
    label : str, optional
        Name of this trajectory in the store (default: the model's class name).
    spec : AnalysisSpec, optional
        As in :func:`netspectra.analyze`, or its keywords (``include=``, ``options=``, ...).
    """

    def __init__(
        self,
        model: Any,
        every: int = 100,
        store: Store | None = None,
        *,
        label: str | None = None,
        spec: AnalysisSpec | None = None,
        **keywords: Unpack[SpecKeywords],
    ) -> None:
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        self.model = model
        self.every = every
        self.store = store
        self.label = label or type(model).__name__
        self.spec = AnalysisSpec.resolve(spec, **keywords)
        self._points: list[TrackPoint] = []
        self._tops: list[np.ndarray] = []
        self._last_step: int | None = None

    def step(self, step: int) -> tuple[TrackPoint, ...]:
        """Record the model at ``step`` if it is a recording step; return the points recorded (or ())."""
        if step % self.every or step == self._last_step:
            return ()
        report = analyze(self.model, self.spec)
        if self.store is not None:
            self.store.record_run(report, self.spec.identity(), step=step, label=self.label)
        recorded = Trajectory.of([(report, step)])
        self._points += recorded.points
        self._tops += recorded.top_eigenvalues
        self._last_step = step
        return recorded.points

    @property
    def trajectory(self) -> Trajectory:
        """Everything recorded so far."""
        return Trajectory(tuple(self._points), tuple(self._tops))
