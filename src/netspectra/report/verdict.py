"""A model's diagnostics in words: warning labels of each layer and a one-sentence reading of the model."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from netspectra.defaults import OVER_TRAINED_ALPHA, UNDER_TRAINED_ALPHA, WARNING_LABELS

if TYPE_CHECKING:
    from netspectra.diagnose.model import ModelSummary
    from netspectra.diagnose.row import LayerReport

#: What each phase says about a layer, for the terminal's legend (the rule: netspectra.diagnose.phase).
PHASE_MEANINGS = {
    "random-like": "nothing stands out from what its own entries at random positions would give: close to a random start",
    "bleeding-out": "a few eigenvalues leave the bulk edge, still contiguous with it: early learning",
    "bulk+spikes": "a noise bulk with spikes separated from it: a low-rank signal on top of noise",
    "bulk-decay": "structure beyond noise, but the tail decays faster than a power law (alpha > 6 or exponential)",
    "heavy-tailed": "a power-law tail with alpha <= 6: correlations learned at every scale",
    "rank-collapse": "more than 10% of the eigenvalues are numerically zero",
    "isometric": "narrower than its own entries at random positions: singular values near equal, an (almost) orthogonal matrix",
}


def label_of(warning: str) -> str:
    """The label of one warning: ``fit-failed`` for ``"fit-failed: 2 non-zero eigenvalues"``; loader
    notes and other texts that are not one of :data:`WARNING_LABELS` are a ``note``."""
    label = warning.split(":")[0].strip()
    return label if label in WARNING_LABELS else "note"


def layer_labels(layer: LayerReport) -> list[tuple[str, str]]:
    """``(label, full text)`` of each warning of a layer; an unanalyzable layer is one ``("error", reason)``."""
    if layer.status == "error":
        return [("error", layer.warning or "not analyzed")]
    return [(label_of(w), w) for w in layer.warnings]


def phase_counts(layers: Sequence[LayerReport]) -> Counter[str]:
    """Layers per phase (the ``phase`` column, when the analysis produced it), most common first."""
    return Counter(layer.phase for layer in layers if layer.phase)


def reading(summary: ModelSummary, layers: Sequence[LayerReport]) -> str:
    """One sentence on the model: how many fitted layers have alpha in [2, 6], what is flagged, what is random-like.

    The alpha range is WeightWatcher's (Martin & Mahoney, JMLR 22(165), 2021): below 2 a layer may be
    over-trained (very heavy tail), above 6 under-trained (close to random).
    """
    alphas = [layer.alpha for layer in layers if layer.status == "ok" and math.isfinite(layer.alpha)]
    if not alphas:
        return f"No layer of the {summary.num_layers} has a power-law fit, so there is no alpha to read."
    inside = sum(OVER_TRAINED_ALPHA <= a <= UNDER_TRAINED_ALPHA for a in alphas)
    flagged = [f"{n} {label}" for label, n in summary.warning_counts.items() if n and label != "fit-failed"]
    share = inside / len(alphas)
    lead = "Mostly typical of trained layers" if share >= 0.9 else ("Mixed" if share >= 0.6 else "Atypical")
    sentence = (
        f"{lead}: {inside} of {len(alphas)} fitted layers have alpha between {OVER_TRAINED_ALPHA:g} and "
        f"{UNDER_TRAINED_ALPHA:g} (mean {summary.alpha_mean:.2f}, median {summary.alpha_median:.2f})"
    )
    sentence += f"; flagged: {', '.join(flagged)}" if flagged else "; no layer is flagged"
    random_like = phase_counts(layers)["random-like"]
    if random_like:
        sentence += (
            f"; {random_like} random-like (a spectrum its own entries make at random positions: "
            "untrained, or barely moved from the start)"
        )
    not_fitted = summary.num_layers - len(alphas)
    if not_fitted:
        sentence += f"; {not_fitted} without a power-law fit"
        sentence += f" ({summary.num_errors} not analyzable)" if summary.num_errors else ""
    return sentence + "."
