"""The version of netspectra's algorithms: which numbers a layer row holds for a given input.

:data:`ALGORITHM_VERSION` is carried by every :class:`~netspectra.ModelReport` (and its JSON and summary)
and by every run of the results store, which serves a stored run only to a netspectra of the same
version (:mod:`netspectra.store`).  It is bumped by every change that can move a value of a row for the
same weights and options (a new estimator, a fixed bug, another summation order), and by no other
change; the package version (``netspectra.__version__``) says nothing about the numbers.

``tests/test_algorithm_version.py`` ties it to the golden table ``tests/data/minilm_layers.csv``: the
table cannot change without a bump.  History (each a rewrite of that table but 10, which moves rows the table
does not hold):

1. layer rows grouped by concern (commit 142ae94);
2. the correlation trap from the largest entries (daab61e);
3. the exact KS law and the lognormal and truncated power-law likelihood ratios by Newton's method (a45ac43);
4. the calibrated phase rule, spikes only over an MP bulk, polynomial unfolding, the shuffled-entries
   null (issue 15, 2f96d90);
5. log det X and the det X = 1 tail (issue 18, 7099f40);
6. the placement columns ``role``, ``stack``, ``block``, ``expert`` and rows in model order (issue 26):
   within a block q, k, v, o before the MLP, so MiniLM's rows (and their ``layer_index``) are reordered;
   every other value of every row unchanged.
7. WeightWatcher's tail beside netspectra's (issue 29): the ``alpha_ww``/``xmin_ww``/``num_tail_ww`` columns, the
   ``ww-tail`` warning where its KS minimum is a tail shorter than ``min_tail`` allows, and the empty columns of
   its options (``fix_fingers``, ``fit='TPL'``, ``vectors``); the tail tests' quadrature starts at the integrand's own
   scale (a steep one, a tail of a few close values, no longer asks for 10^14 panels): the lognormal and truncated
   power-law likelihood ratios move by up to 5e-8 relative.
8. readings that hold beyond the calibration (issue 27): many separated spikes are bulk+spikes, the
   isometric phase, alpha's interval (``alpha_lo``, ``alpha_hi``) behind the alpha labels, spike overlaps
   only 15 Tracy–Widom scales above the edge, ``log_det_error``, ``num_spikes`` empty without an edge.
9. the quantization noise of a quantized layer (``sigma2_quant``, ``quant_share``) and the labels it can
   explain withheld (issue 26, item 9).
10. tail-only windows of large layers without the depth columns from float32 eigenvectors refined in float64
    (the ``refined`` backend, issue 28): their eigenvalues, alpha and xmin move by about 1e-12 relative; the
    golden table (a full analysis) is unchanged.
11. the shuffled-entries null's power sums of float32 entries raised and summed in float64 (they were float32
    dot products, whose digits past the seventh depended on the CPU's BLAS kernel): ``structure_index`` moves by
    up to 2.5e-6 relative, ``shuffle_distance`` and ``shuffle_lambda_ratio`` by up to 8e-9.
"""

#: Bumped by every change that can move a value of a layer row for the same input (see the module docstring).
ALGORITHM_VERSION = 11
