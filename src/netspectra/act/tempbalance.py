"""TempBalance: per-layer learning rates from alpha during training (Zhou et al., NeurIPS 2023).

A layer with a larger alpha is less trained and gets a larger learning rate; every ``every`` steps each
layer's alpha is measured on its current weights and mapped linearly (the authors' ``tb_linear_map``):

    lr_i = base_lr x [s1 + (s2 - s1) (alpha_i - min alpha) / (max alpha - min alpha)],

defaults s1 = 0.5, s2 = 1.5 (a layer without a fitted alpha keeps factor 1; a conv kernel is measured
as its out x (in * kernel) matrix, as TempBalance does).  Use it with one optimizer
parameter group per weight matrix (:func:`layer_param_groups`) and call :meth:`TempBalance.step` after
each ``optimizer.step()``:

>>> groups = layer_param_groups(model, lr=0.05)                 # doctest: +SKIP
>>> optimizer = torch.optim.SGD(groups, lr=0.05)
>>> balance = TempBalance(optimizer, every=100)
>>> for x, y in batches:
...     loss(model(x), y).backward(); optimizer.step(); optimizer.zero_grad(); balance.step()
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from netspectra.act.alpha_map import linear_alpha_map
from netspectra.errors import UsageError

#: TempBalance's default range of learning-rate factors [s1, s2].
DEFAULT_FACTORS = (0.5, 1.5)


def lr_factors(alphas: np.ndarray, factor_range: tuple[float, float] = DEFAULT_FACTORS) -> np.ndarray:
    """Learning-rate factor per layer: alpha mapped linearly onto [s1, s2]; NaN alpha (no fit) -> 1
    (:func:`netspectra.act.alpha_map.linear_alpha_map`, the map AlphaPruning uses too)."""
    return linear_alpha_map(alphas, factor_range)


def layer_param_groups(model: Any, lr: float) -> list[dict[str, Any]]:
    """Optimizer parameter groups: one per weight matrix of ``model`` (2-D or more, named ``*weight``),
    with its name and base learning rate, and one group for every other parameter (biases, norms)."""
    groups, rest = [], []
    for name, parameter in model.named_parameters():
        if parameter.ndim >= 2 and name.endswith("weight"):
            groups.append({"params": [parameter], "name": name, "lr": lr, "base_lr": lr})
        else:
            rest.append(parameter)
    if not groups:
        raise UsageError("the model has no weight matrix to balance")
    if rest:
        groups.append({"params": rest, "name": None, "lr": lr, "base_lr": lr})
    return groups


class TempBalance:
    """Reset each named group's learning rate from its layer's alpha every ``every`` steps (module docstring)."""

    def __init__(self, optimizer: Any, every: int = 100, factor_range: tuple[float, float] = DEFAULT_FACTORS) -> None:
        if every < 1:
            raise UsageError(f"every must be >= 1, got {every}")
        self.optimizer, self.every, self.factor_range = optimizer, every, factor_range
        self.steps = 0
        self.history: list[dict[str, float]] = []  # alpha per layer name, at each update

    def step(self) -> None:
        """Count one training step; every ``every`` steps, measure the alphas and set the learning rates."""
        self.steps += 1
        if self.steps % self.every == 0:
            self.update()

    def update(self) -> dict[str, float]:
        """Measure every named group's alpha now and set its lr = base_lr x factor; return the alphas."""
        from netspectra.diagnose.options import AnalysisOptions
        from netspectra.pipeline import analyze_array
        from netspectra.spec import AnalysisSpec

        spec = AnalysisSpec(fit=AnalysisOptions(depth=False))
        groups = [g for g in self.optimizer.param_groups if g.get("name")]
        alphas = []
        for group in groups:
            weight = group["params"][0].detach().cpu().numpy()
            matrix = weight.reshape(weight.shape[0], -1) if weight.ndim > 2 else weight
            alphas.append(analyze_array(matrix, spec, name=group["name"]).alpha)
        for group, factor in zip(groups, lr_factors(np.array(alphas), self.factor_range)):
            group["lr"] = group["base_lr"] * float(factor)
        measured = {g["name"]: a for g, a in zip(groups, alphas) if math.isfinite(a)}
        self.history.append(measured)
        return measured
