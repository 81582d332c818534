"""The localization columns of a layer (WeightWatcher's ``vectors=True``): its right singular vectors split at xmin.

Convention: W is N x M with N >= M; the right singular vectors of W are the eigenvectors of W^T W / N.  The
vectors of the ``num_above`` largest eigenvalues (those at or above the fit's xmin) are the tail, the others
the bulk; each part's mean and (population) variance of the three statistics of
:mod:`netspectra.rmt.localization` fill :class:`~netspectra.diagnose.row.VectorColumns` (Martin & Mahoney,
JMLR 22(165), 2021, §5: delocalized bulk vectors, localized tail vectors in well-trained layers).
"""

from __future__ import annotations

import numpy as np

from netspectra.diagnose.row import VectorColumns
from netspectra.rmt.localization import vector_statistics


def vector_columns(stack: np.ndarray, num_above: int) -> VectorColumns:
    """:class:`VectorColumns` of the (k, N, M) stack, the ``num_above`` largest eigenvalues' vectors as the tail
    (a part without vectors gets NaN)."""
    stats = vector_statistics(stack)
    order = np.argsort(stats.eigenvalues, kind="stable")
    tail = np.zeros(order.size, dtype=bool)
    tail[order[order.size - num_above :]] = num_above > 0
    values: dict[str, float] = {}
    for name, data in (("vec_entropy", stats.entropy), ("loc_ratio", stats.localization), ("part_ratio", stats.participation)):
        for part, mask in (("bulk", ~tail), ("tail", tail)):
            chosen = data[mask]
            values[f"{part}_mean_{name}"] = float(chosen.mean()) if chosen.size else float("nan")
            values[f"{part}_var_{name}"] = float(chosen.var()) if chosen.size else float("nan")
    return VectorColumns(**values)
