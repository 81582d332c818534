"""Acting on the diagnosis without data: layer-wise pruning ratios (:mod:`.pruning`), layers to fine-tune
(:mod:`.selection`), model ranking (:mod:`.ranking`), per-layer learning rates (:mod:`.tempbalance`)."""
