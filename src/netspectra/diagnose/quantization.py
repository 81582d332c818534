"""Quantization-aware reading of a layer: its quantization noise beside the MP noise level, and the one rule that
keeps a label from resting on that noise.

``sigma2_quant`` (:mod:`netspectra.io.quant_noise`) is the mean per-entry variance of the rounding error of a
quantized weight, in the units of ``sigma2_mp``; ``quant_share`` = sigma2_quant / sigma2_mp is the share of the
bulk's noise level that the rounding alone makes.

**The rule** (:func:`withhold_quantization_labels`), from ``benchmarks/bench_quant_noise.py`` (docs/verdicts.md,
"Quantized files"): every linear weight of all-MiniLM-L6-v2 and all-mpnet-base-v2 (110 matrices) rounded to
uniform grids whose noise is a share s = 1e-4 .. 10 of its MP level, and both models written as Q8_0, Q4_0 and
Q4_K GGUF files, analyzed against the float ones:

* **under-trained** rests on alpha's interval lying above 6 (``alpha_lo`` > 6,
  :func:`~netspectra.diagnose.rules.alpha_label`).  Rounding moved alpha by a multiple of the float fit's
  standard error ``alpha_se`` that grows with the share: in 95% of the layers by less than 0.32 se at s = 1e-4,
  0.78 at 1e-3, 1.4 at 1e-2, 2.8 at 0.1, 7.3 at s = 1 (medians 0.01, 0.03, 0.09, 0.32, 1.95), and it gave 1 to
  15 of the 110 layers an alpha > 6 they did not have.  c s^(1/3) lies above those 95% quantiles at every
  share measured from c = 7.78 on: with c = :data:`SHIFT_SE`, a layer whose ``alpha_lo`` exceeds 6 by less
  than ``SHIFT_SE s^(1/3) alpha_se`` could owe its label to the rounding (the interval moves with alpha), and
  is not called under-trained.  At 8 bits (s ~ 3e-5 to 5e-5) that margin is 0.25 se; at 4 and 5 bits (s ~
  2e-3 to 1.3e-2) 1 to 2 se.  (The shifts were measured on alpha, before the label rested on the interval.)
* **random-like** rests on no eigenvalue standing above the noise ceiling of the layer's entries.  Rounding
  made no measured layer random-like at any share up to s = 10 (the trained layers' spikes and tails stand
  above a noise even ten times their bulk; coarse grids make sparse, structured matrices instead).  Where the
  rounding noise is at least the bulk's own (s >= :data:`RANDOM_SHARE`), the ceiling under which a random-like
  layer shows nothing is the format's, and structure weaker than it would not show: such a layer is not
  called random-like.

A withheld label becomes the warning ``quantization-noise: ...`` naming the label, the share and the
margin; a withheld phase leaves ``phase`` empty and says why in ``phase_reason``.

Eigenvalue convention: eigenvalues of W^T W / N, W is N x M with N >= M.
"""

from __future__ import annotations

import math

from netspectra.defaults import UNDER_TRAINED_ALPHA
from netspectra.diagnose.row import LayerReport

#: Rounding of noise share s moved alpha by less than SHIFT_SE s^(1/3) alpha_se in 95% of the measured layers.
SHIFT_SE = 8.0
#: At or above this share the rounding noise is at least the bulk's own: random-like is not read.
RANDOM_SHARE = 1.0
#: The warning label of a withheld label (counted in the model summary).
QUANTIZATION_NOISE = "quantization-noise"


def alpha_reach(share: float) -> float:
    """How far, in alpha standard errors, rounding of noise share ``share`` may move alpha: SHIFT_SE share^(1/3)."""
    return SHIFT_SE * share ** (1.0 / 3.0) if share > 0 else 0.0


def with_quantization_noise(report: LayerReport, sigma2_quant: float) -> LayerReport:
    """The row with its ``sigma2_quant`` and ``quant_share`` columns filled, and the labels the rounding could
    explain withheld (:func:`withhold_quantization_labels`)."""
    share = sigma2_quant / report.sigma2_mp if report.sigma2_mp > 0 else math.nan
    return withhold_quantization_labels(report.with_columns(sigma2_quant=sigma2_quant, quant_share=share))


def withhold_quantization_labels(report: LayerReport) -> LayerReport:
    """The rule of the module docstring: ``under-trained`` and ``random-like`` withheld where the layer's
    quantization noise (``quant_share``) could explain what they rest on."""
    share = report.quant_share
    if not share > 0:
        return report
    warnings = list(report.warnings)
    changes: dict[str, object] = {}
    reach = alpha_reach(share)
    if "under-trained" in warnings and report.alpha_lo - UNDER_TRAINED_ALPHA <= reach * report.alpha_se:
        warnings[warnings.index("under-trained")] = (
            f"{QUANTIZATION_NOISE}: under-trained withheld (alpha_lo = {report.alpha_lo:.2f} is within {reach:.2f} "
            f"alpha_se of {UNDER_TRAINED_ALPHA:g}, as far as rounding of sigma2_quant = {share:.2g} sigma2_mp moves alpha)"
        )
    if report.phase == "random-like" and share >= RANDOM_SHARE:
        why = f"sigma2_quant = {share:.2g} sigma2_mp: the rounding noise is at least the bulk's own"
        warnings.append(f"{QUANTIZATION_NOISE}: random-like withheld ({why})")
        changes.update(phase="", phase_reason=f"random-like withheld, {why}; {report.phase_reason}")
    if warnings == list(report.warnings) and not changes:
        return report
    return report.with_columns(warnings=tuple(warnings), **changes)
