"""A model's diagnostics in words: warning labels of each layer and a one-sentence reading of the model."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from netspectra.diagnose.layer import LayerReport
from netspectra.diagnose.rules import OVER_TRAINED_ALPHA, UNDER_TRAINED_ALPHA
from netspectra.diagnose.model import WARNING_LABELS, ModelSummary


def split_warning(warning: str) -> list[tuple[str, str]]:
    """``(label, full text)`` of each ``;``-separated part of a warning cell.

    ``"fit-failed: 2 non-zero eigenvalues; under-trained"`` ->
    ``[("fit-failed", "fit-failed: 2 non-zero eigenvalues"), ("under-trained", "under-trained")]``.
    Loader notes and error reasons that are not one of :data:`WARNING_LABELS` get the label ``note``
    (or ``error`` on a layer whose status is ``error``: see :func:`layer_labels`).
    """
    parts = [p.strip() for p in warning.split(";") if p.strip()]
    out = []
    for part in parts:
        label = part.split(":")[0].strip()
        out.append((label if label in WARNING_LABELS else "note", part))
    return out


def layer_labels(layer: LayerReport) -> list[tuple[str, str]]:
    """Warning labels of a layer; an unanalyzable layer is one ``("error", reason)``."""
    if layer.status == "error":
        return [("error", layer.warning or "not analyzed")]
    return split_warning(layer.warning)


def phase_counts(layers: Sequence[LayerReport]) -> Counter[str]:
    """Layers per phase (the ``phase`` column, when the analysis produced it), most common first."""
    return Counter(str(p) for p in (getattr(layer, "phase", None) for layer in layers) if p)


def reading(summary: ModelSummary, layers: Sequence[LayerReport]) -> str:
    """One sentence on the model: how many fitted layers have alpha in [2, 6] and what is flagged.

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
    not_fitted = summary.num_layers - len(alphas)
    if not_fitted:
        sentence += f"; {not_fitted} without a power-law fit"
        sentence += f" ({summary.num_errors} not analyzable)" if summary.num_errors else ""
    return sentence + "."
