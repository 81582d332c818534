"""Acting on the diagnosis without data: layer-wise pruning ratios from alpha (:mod:`.pruning`)."""
