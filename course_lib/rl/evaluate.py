"""Meta-RL evaluation (MAML paper §5.3): returns on held-out tasks after 0, 1, …, k policy-gradient steps.

Per step: N fresh episodes per task with the current policy (their mean return is that step's
number), then one REINFORCE step on them, α = 0.1 for the first step and 0.05 after.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ..functional import Params, detached
from ..inner import inner_update
from ..meta import CONTEXT, shared
from ..validation import check_choice, check_int
from .config import initial_params
from .envs import ENVS, make_batched_env
from .episodes import Episodes, sample_episodes
from .losses import reinforce_loss
from .tasks import with_advantages

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "maml_paper_rl_returns.json"


# The 40 test tasks behind the paper's RL figures, as the authors' test scripts drew them
# (cbfinn/maml_rl, maml_examples/test_maml_{point,cheetah,cheetah_direc,ant,ant_direc}.py): NumPy's
# legacy global generator, np.random.seed(seed) then np.random.uniform(low, high, shape). A direction
# task turns its draw g into −1 if g < (low + high) / 2, else +1. The reference's per-task returns follow
# these tasks in order (tests/test_rl_train.py checks it against the reference data).
PAPER_TEST_DRAWS = {            # env: (seed, low, high, task shape, direction tasks)
    "navigation2d": (1, -0.5, 0.5, (2,), False),
    "halfcheetah_vel": (1, 0.0, 2.0, (), False),
    "halfcheetah_dir": (1, 0.0, 2.0, (), True),
    "ant_vel": (1, 0.0, 3.0, (), False),
    "ant_dir": (2, 0.0, 3.0, (), True),
}
PAPER_TEST_TASKS = 40
HELD_OUT_SEED = 2017            # our own draw, for the environments the paper has no test tasks of


def held_out_tasks(env: str, n_tasks: int = 40, seed: int = HELD_OUT_SEED) -> np.ndarray:
    """A fixed set of test tasks, disjoint in seed from training."""
    check_choice(env, "env", tuple(ENVS))
    check_int(n_tasks, "n_tasks", 1)
    return ENVS[env].distribution.sample_tasks(n_tasks, np.random.default_rng(seed))


def paper_test_tasks(env: str, n_tasks: int = PAPER_TEST_TASKS) -> np.ndarray:
    """The paper's own test tasks (the first `n_tasks` of its 40), in the reference data's order."""
    if env not in PAPER_TEST_DRAWS:
        raise ValueError(f"env: the paper has test tasks for {sorted(PAPER_TEST_DRAWS)}, not {env!r}")
    check_int(n_tasks, "n_tasks", 1, PAPER_TEST_TASKS)
    seed, low, high, shape, directions = PAPER_TEST_DRAWS[env]
    draw = np.random.RandomState(seed).uniform(low, high, (PAPER_TEST_TASKS, *shape))[:n_tasks]
    if directions:
        draw = np.where(draw < (low + high) / 2, -1.0, 1.0)
    return draw.astype(held_out_tasks(env, 1).dtype)


def reproduction_tasks(env: str, n_tasks: int = PAPER_TEST_TASKS, source: str | int = "paper") -> np.ndarray:
    """The reproduction's test tasks: `source="paper"`, the paper's own where it has them (else our
    `held_out_tasks` draw, seed 2017), or an int, the seed of a `held_out_tasks` draw."""
    if source == "paper":
        return paper_test_tasks(env, n_tasks) if env in PAPER_TEST_DRAWS else held_out_tasks(env, n_tasks)
    if isinstance(source, bool) or not isinstance(source, int) or source < 0:
        raise ValueError(f"source must be 'paper' or a seed (an int >= 0), got {source!r}")
    return held_out_tasks(env, n_tasks, seed=source)


def adaptation_episodes(policy, theta: Params, config, tasks: np.ndarray, steps: int = 3, episodes: int = 40,
                        alphas: tuple[float, ...] | None = None, seed: int = 0,
                        gamma: float | None = None) -> list[Episodes]:
    """The episodes of steps 0..steps on every task ([T, N, H] each, with advantages).

    `config` is the policy's training config (which parameters adapt: all weights, or CAVIA's context).
    `alphas` default to (α, α/2) with the training α — the paper's (0.1, 0.05).
    """
    return [batch for _, batch in adaptation_steps(policy, theta, config, tasks, steps, episodes, alphas, seed, gamma)]


def adaptation_steps(policy, theta: Params, config, tasks: np.ndarray, steps: int = 3, episodes: int = 40,
                     alphas: tuple[float, ...] | None = None, seed: int = 0,
                     gamma: float | None = None) -> Iterator[tuple[Params, Episodes]]:
    """`adaptation_episodes` one step at a time: yields (params, episodes) for steps 0..steps, where
    params are the task-batched parameters after `step` updates ([T, …]) that sampled the episodes."""
    check_int(steps, "steps", 0)
    check_int(episodes, "episodes", 1)
    gamma = config.gamma if gamma is None else gamma
    alphas = alphas or (config.alpha, config.alpha / 2)
    generator = torch.Generator().manual_seed(seed)
    env = make_batched_env(config.env, tasks, episodes, oracle=config.algo == "oracle",
                           normalize_actions=config.normalize_actions)
    params = initial_params(theta, len(tasks), config)
    fast = [CONTEXT] if config.algo == "cavia" else list(shared(params))
    for step in range(steps + 1):
        batch = with_advantages(sample_episodes(policy, params, env, generator), gamma, config.gae_lambda)
        yield params, batch
        if step == steps:
            break
        alpha = alphas[min(step, len(alphas) - 1)]
        slow = {k: v for k, v in params.items() if k not in fast}
        with torch.enable_grad():
            adapted = inner_update(detached({k: params[k] for k in fast}, True),
                                   lambda p: reinforce_loss(policy, {**slow, **p}, batch).sum(), alpha, 1,
                                   first_order=True)
        params = {**slow, **detached(adapted)}


def adaptation_returns(policy, theta: Params, config, tasks: np.ndarray, steps: int = 3, episodes: int = 40,
                       alphas: tuple[float, ...] | None = None, seed: int = 0, gamma: float | None = None) -> torch.Tensor:
    """Mean return per task after 0..steps adaptation steps: a [steps + 1, T] tensor."""
    batches = adaptation_episodes(policy, theta, config, tasks, steps, episodes, alphas, seed, gamma)
    return torch.stack([b.total_return().mean(1) for b in batches])


def reference_returns(env: str) -> dict:
    """The MAML paper's per-task returns, {method: [step][task]} (course_lib/reference, from the authors' data)."""
    return json.loads(REFERENCE.read_text())["returns"].get(env, {})


def step_alphas(alpha: float, steps: int) -> tuple[float, ...]:
    """The paper's test-time schedule: α for the first step, α/2 for every later one."""
    return tuple(alpha if s == 0 else alpha / 2 for s in range(steps))
