"""How noisy each meta-gradient estimator is on a real task: the estimators' meta-gradients on fresh
meta-batches at a fixed policy (bench/estimators.py and notebook 11 measure with it)."""
from __future__ import annotations

import numpy as np
import torch

from ..functional import Params, batched
from ..validation import check_int
from .envs import ENVS, make_batched_env
from .estimators import ESTIMATORS, meta_surrogate, score_weight
from .losses import log_prob
from .train import sample_meta_batch
from .trpo import flat


def estimator_gradients(policy, theta: Params, config, episodes: int, repeats: int = 8, meta_batch: int = 10,
                        seed: int = 0) -> dict[str, torch.Tensor]:
    """{estimator: [repeats, n_weights]}: each estimator's meta-gradient at θ on `repeats` fresh meta-batches
    of `meta_batch` tasks × `episodes` episodes (every estimator on the same episodes of a batch)."""
    for name, value, low in (("episodes", episodes, 1), ("repeats", repeats, 2), ("meta_batch", meta_batch, 1),
                             ("seed", seed, 0)):
        check_int(value, name, low)
    theta = {k: v.detach().requires_grad_(True) for k, v in theta.items()}
    params = list(theta.values())
    rng, generator = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    grads = {e: [] for e in ESTIMATORS}
    for _ in range(repeats):
        tasks = ENVS[config.env].distribution.sample_tasks(meta_batch, rng)
        env = make_batched_env(config.env, tasks, episodes, normalize_actions=config.normalize_actions)
        batch = sample_meta_batch(policy, theta, env, config, generator)
        weight = score_weight(batch.query, config.gamma, config.gae_lambda)    # DiCE's g, with a baseline
        for e in ESTIMATORS:
            loss = meta_surrogate(e, batched(theta, batch.n_tasks), lambda p, ep: log_prob(policy, p, ep),
                                  batch.support, batch.query, batch.old.log_prob, config.alpha, config.steps,
                                  weight)
            grads[e].append(flat(torch.autograd.grad(loss.mean(), params)))
    return {e: torch.stack(g) for e, g in grads.items()}


def leave_one_out_cosine(G: torch.Tensor) -> float:
    """Mean cosine between each row of G and the mean of the other rows (1: every batch agrees)."""
    total = G.sum(0)
    return float(np.mean([float(torch.nn.functional.cosine_similarity(g, (total - g) / (len(G) - 1), dim=0))
                          for g in G]))
