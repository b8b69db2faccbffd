"""Meta-RL: batched sampling, returns and baselines, policy-gradient losses, TRPO, MAML-TRPO training."""
