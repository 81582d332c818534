"""A compression judged by the function of the model, not by its layers one at a time.

Two judges, each a pure function of numbers here (the model is run by :mod:`netspectra.denoise.probe`):

* **outputs** (the model can run): the original and the compressed model read the same probe inputs;
  their final outputs Y (inputs x tokens x features) are mean-pooled over the real tokens, p = mean_t Y_t,
  as sentence-transformers pools a sentence embedding, and compared per input by the cosine
  cos(p_hat, p) = <p_hat, p> / (||p_hat|| ||p||), and as a whole by the relative error
  ||Y_hat - Y||_F / ||Y||_F over the real tokens.  The compression passes when the mean cosine is at
  least :data:`MIN_MEAN_COSINE`.
* **bound** (it cannot run): a data-free bound on how far the output can move, from the per-layer
  relative spectral errors eps_l = ||W_l - W_hat_l||_2 / ||W_l||_2 alone (:func:`chain_bound`).  It passes
  when the bound is at most :data:`MAX_CHAIN_BOUND`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from netspectra.tabular import TableRow

#: The compressed model passes the outputs judge when the mean cosine between its pooled outputs and the
#: original's, over the probe inputs, is at least this.  Calibrated on all-MiniLM-L6-v2 (docs/compress.md,
#: "Judged by function"): at mean cosine 0.975 (energy:0.999) the similarity of unrelated sentences already
#: rises from 0.016 to 0.042, at 0.90 (energy:0.99) to 0.09, at 0.58 (energy:0.9) to 0.32; on the digits MLP
#: the settings with logit cosine >= 0.993 lose at most 0.8 points of accuracy, rank:8 (0.964) loses 4.
MIN_MEAN_COSINE = 0.99

#: The bound judge passes a compression whose :func:`chain_bound` is at most this: the relative error of an
#: output whose error is orthogonal to it and whose cosine with it is :data:`MIN_MEAN_COSINE`,
#: sqrt(1 / 0.99^2 - 1) = 0.1425, the same tolerance stated for the bound's normalised error.
MAX_CHAIN_BOUND = math.sqrt(1.0 / MIN_MEAN_COSINE**2 - 1.0)


@dataclass(frozen=True)
class FunctionCheck(TableRow):
    """How far the compressed model's function is from the original's.

    Attributes
    ----------
    judge : str
        ``outputs`` (both models run on the probe inputs) or ``bound`` (the data-free chain bound).
    passed : bool
        mean_cosine >= :data:`MIN_MEAN_COSINE` (outputs) or chain_bound <= :data:`MAX_CHAIN_BOUND` (bound).
    mean_cosine, min_cosine : float
        Mean and smallest over the probe inputs of cos(p_hat, p) of the mean-pooled outputs (NaN for bound).
    rel_error : float
        ||Y_hat - Y||_F / ||Y||_F of the final outputs over the real tokens (NaN for bound).
    chain_bound : float
        prod_l (1 + eps_l) - 1 over the compressed matrices (:func:`chain_bound`), reported by both judges.
    inputs : str
        What the model read (``32 probe sentences, the model's tokenizer``; "" for bound).
    output : str
        Which output was compared (``logits`` or ``last hidden state``; "" for bound).
    note : str
        Why the model was not run (bound), e.g. ``no config.json next to the weights``.
    """

    judge: str
    passed: bool
    mean_cosine: float
    min_cosine: float
    rel_error: float
    chain_bound: float
    inputs: str = ""
    output: str = ""
    note: str = ""

    @property
    def threshold(self) -> float:
        """The threshold this judge applies: :data:`MIN_MEAN_COSINE` or :data:`MAX_CHAIN_BOUND`."""
        return MIN_MEAN_COSINE if self.judge == "outputs" else MAX_CHAIN_BOUND

    def measure(self) -> str:
        """The judged number in words: ``mean cosine 0.975`` or ``chain bound 5.7``."""
        if self.judge == "outputs":
            return f"mean cosine {self.mean_cosine:.3f}"
        return f"chain bound {self.chain_bound:.3g}"

    def describe(self) -> str:
        """One sentence: what was compared, the numbers, and the verdict against the threshold."""
        if self.judge == "outputs":
            text = (
                f"function: the {self.output} on {self.inputs} keep mean cosine {self.mean_cosine:.3f} "
                f"(min {self.min_cosine:.3f}) with the original's, relative error {self.rel_error:.3f}; "
            )
            verdict = f">= {self.threshold}" if self.passed else f"< {self.threshold}"
        else:
            text = f"function (not run: {self.note}): the data-free chain bound on the output error is {self.chain_bound:.3g}; "
            verdict = f"<= {self.threshold:.3f}" if self.passed else f"> {self.threshold:.3f}"
        return text + ("passes" if self.passed else "fails") + f" ({verdict})"


def output_agreement(reference: np.ndarray, compressed: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-input cosine of the mean-pooled outputs, and the relative error of all outputs.

    Parameters
    ----------
    reference, compressed : ndarray (inputs, tokens, features)
        Final outputs Y of the original and Y_hat of the compressed model on the same inputs.
    mask : ndarray (inputs, tokens)
        1 for a real token, 0 for padding.

    Returns
    -------
    (cosines, rel_error)
        cos(p_hat_i, p_i) per input i with p_i = sum_t m_it Y_it / sum_t m_it (1.0 where both are zero,
        0.0 where one is), and ||m (Y_hat - Y)||_F / ||m Y||_F.
    """
    y0 = np.asarray(reference, dtype=np.float64)
    y1 = np.asarray(compressed, dtype=np.float64)
    m = np.asarray(mask, dtype=np.float64)[..., None]
    counts = np.maximum(m.sum(axis=1), 1.0)
    p0, p1 = (y0 * m).sum(axis=1) / counts, (y1 * m).sum(axis=1) / counts
    n0, n1 = np.linalg.norm(p0, axis=1), np.linalg.norm(p1, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosines = np.sum(p0 * p1, axis=1) / (n0 * n1)
    cosines = np.where((n0 == 0) & (n1 == 0), 1.0, np.where((n0 == 0) | (n1 == 0), 0.0, cosines))
    base = np.linalg.norm(y0 * m)
    diff = np.linalg.norm((y1 - y0) * m)
    rel_error = diff / base if base > 0 else (0.0 if diff == 0 else math.inf)
    return np.clip(cosines, -1.0, 1.0), float(rel_error)


def chain_bound(rel_spec_errors: Iterable[float]) -> float:
    """Data-free bound on the output error of a chain of layers, prod_l (1 + eps_l) - 1.

    For f(x) = W_L s(W_{L-1} ... s(W_1 x)) with activations s that are 1-Lipschitz and s(0) = 0 (ReLU,
    leaky ReLU, tanh) and each W_l replaced by W_hat_l with ||W_l - W_hat_l||_2 <= eps_l ||W_l||_2,

        ||f_hat(x) - f(x)|| <= (prod_l (1 + eps_l) - 1) prod_l ||W_l||_2 ||x||     for every x,

    by induction: with d_l = ||h_hat_l - h_l|| and ||h_hat_{l-1}|| <= prod_{k<l} (1 + eps_k) ||W_k||_2 ||x||,
    d_l <= ||W_hat_l - W_l|| ||h_hat_{l-1}|| + ||W_l|| d_{l-1}, and the sum telescopes (the perturbation
    lemma of Neyshabur, Bhojanapalli & Srebro, ICLR 2018, Lemma 2, with relative errors).  Layers left
    unchanged contribute eps = 0.  The matrices of a model are treated as one chain in model order: a
    matrix that is in parallel with another (query and key) only enlarges the product, so the bound holds
    for every path through them.  It is a bound for such chains only: attention and normalisation layers
    are not 1-Lipschitz, and for them it is an estimate.

    Parameters
    ----------
    rel_spec_errors : iterable of float
        eps_l = ||W_l - W_hat_l||_2 / ||W_l||_2 of each compressed matrix (``rel_spec_error``).
    """
    return float(math.prod(1.0 + float(e) for e in rel_spec_errors) - 1.0)


def truncation_errors(singular_values: np.ndarray, rank: int) -> tuple[float, float]:
    """(eps, energy kept) of keeping the ``rank`` largest of ``singular_values`` (descending) unchanged.

    eps = s_{r+1} / s_1 = ||W - W_r||_2 / ||W||_2 (0 when r keeps every value) and energy kept
    = sum_{i<=r} s_i^2 / sum_i s_i^2: what :func:`~netspectra.denoise.lowrank.compress_svd` reports as
    ``rel_spec_error`` and ``energy_kept`` for the ``hard`` shrinker, from the spectrum alone.
    """
    s = np.asarray(singular_values, dtype=np.float64)
    if s.size == 0 or s[0] == 0.0:
        return 0.0, 1.0
    eps = float(s[rank] / s[0]) if rank < s.size else 0.0
    energy = s**2
    return eps, float(energy[:rank].sum() / energy.sum())


def outputs_check(cosines: np.ndarray, rel_error: float, bound: float, inputs: str, output: str) -> FunctionCheck:
    """The outputs judge's verdict from :func:`output_agreement`'s numbers."""
    mean = float(np.mean(cosines))
    return FunctionCheck("outputs", mean >= MIN_MEAN_COSINE, mean, float(np.min(cosines)), rel_error, bound, inputs, output)


def bound_check(bound: float, note: str) -> FunctionCheck:
    """The bound judge's verdict (the model was not run, for the reason ``note``)."""
    return FunctionCheck("bound", bound <= MAX_CHAIN_BOUND, math.nan, math.nan, math.nan, bound, note=note)
