"""SpectraTracker as a callback of the Hugging Face Trainer or of Lightning.

``HFSpectraCallback`` (a ``transformers.TrainerCallback``) and ``LightningSpectraCallback`` (a
``lightning.pytorch.Callback``, or ``pytorch_lightning.Callback``) exist only where their framework is
installed; importing one without it raises ImportError naming the package to install.

>>> from netspectra.compare.callbacks import HFSpectraCallback            # doctest: +SKIP
>>> trainer = Trainer(model, args, callbacks=[HFSpectraCallback(every=200)])
>>> trainer.train(); trainer.callback_handler.callbacks[-1].tracker.trajectory.to_frame()

Both record the model when training starts and after every optimizer step whose global step is a
multiple of ``every``, on the main process only.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from netspectra.compare.track import SpectraTracker


class _TrackerOwner:
    """Creates the tracker when the model is first seen and forwards steps to it."""

    def __init__(self, every: int = 100, store: Any = None, **tracker_kwargs: Any) -> None:
        self.tracker_kwargs = dict(every=every, store=store, **tracker_kwargs)
        self.tracker: SpectraTracker | None = None

    def _record(self, model: Any, step: int, main_process: bool) -> None:
        if not main_process or model is None:
            return
        if self.tracker is None:
            self.tracker = SpectraTracker(model, **self.tracker_kwargs)
        self.tracker.step(step)


class _HFHooks(_TrackerOwner):
    """Hooks of ``transformers.TrainerCallback``: the model arrives as the ``model`` keyword."""

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self._record(model, state.global_step, state.is_world_process_zero)

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self._record(model, state.global_step, state.is_world_process_zero)


class _LightningHooks(_TrackerOwner):
    """Hooks of Lightning's ``Callback``: the model is the LightningModule."""

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._record(pl_module, trainer.global_step, trainer.is_global_zero)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self._record(pl_module, trainer.global_step, trainer.is_global_zero)


@cache
def _subclass(hooks: type, base: type, name: str) -> type:
    return type(name, (hooks, base), {"__module__": __name__, "__doc__": hooks.__doc__})


def _base(candidates: tuple[tuple[str, str], ...], wanted: str) -> type:
    for module, attribute in candidates:
        try:
            return getattr(importlib.import_module(module), attribute)
        except ImportError:
            continue
    packages = " or ".join(m.split(".")[0] for m, _ in candidates)
    raise ImportError(f"{wanted} needs {packages} installed (pip install {candidates[0][0].split('.')[0]})")


def __getattr__(name: str) -> type:
    if name == "HFSpectraCallback":
        return _subclass(_HFHooks, _base((("transformers", "TrainerCallback"),), name), name)
    if name == "LightningSpectraCallback":
        bases = (("lightning.pytorch", "Callback"), ("pytorch_lightning", "Callback"))
        return _subclass(_LightningHooks, _base(bases, name), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
