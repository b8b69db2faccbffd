"""Sinusoid regression (MAML paper §5.1): config and loader (config.py), training loop (train.py),
the paper's benchmark (evaluate.py)."""
