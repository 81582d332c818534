"""One-dimensional minimisation without SciPy's optimize (whose import costs a quarter of a second)."""

from __future__ import annotations

import math
from collections.abc import Callable

#: 1 / golden ratio.
_INVERSE_PHI = (math.sqrt(5.0) - 1.0) / 2.0


def golden_section_minimum(f: Callable[[float], float], lo: float, hi: float, *, tolerance: float) -> float:
    """The minimum of a unimodal ``f`` on [lo, hi], to within ``tolerance``, by golden-section search.

    Each step keeps the sub-interval that holds the lower of two interior points, shrinking the bracket
    by 1/phi and reusing one evaluation (Kiefer, Proc. AMS 4, 1953): log(width / tolerance) / log(phi)
    evaluations.  Returns the best point evaluated (the ends included).
    """
    a, b = lo, hi
    c = b - _INVERSE_PHI * (b - a)
    d = a + _INVERSE_PHI * (b - a)
    fc, fd = f(c), f(d)
    while b - a > tolerance:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - _INVERSE_PHI * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + _INVERSE_PHI * (b - a)
            fd = f(d)
    candidates = [(fc, c), (fd, d), (f(lo), lo), (f(hi), hi)]
    return min(candidates)[1]
