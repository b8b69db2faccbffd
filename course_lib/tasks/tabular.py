"""A tabular MDP family small enough that MAML-RL's meta-gradient is known exactly (issue 22).

States s ∈ {0, …, S−1}, actions a ∈ {0, …, A−1}, deterministic moves s' = next[s, a], start state 0,
horizon H, no discount. Task k pays reward[k, s, a]; in `goal_mdp` a task is a goal state g_k and a
step pays 1 when it lands on g_k. The policy is a softmax table, π_θ(a|s) = softmax(θ[s])_a, with θ
the params dict {"logits": [S, A]} (task-batched: [T, S, A]), like every other model of the library.

The MAML-RL objective, with the inner step taken on a batch D of K sampled pre-update episodes:

    J(θ) = E_k E_{D∼π_θ^K} [ J_k(θ'(θ, D)) ],    J_k(φ) = E_{τ∼π_φ}[ R_k(τ) ] = Σ_τ p_φ(τ) R_k(τ),
    θ'(θ, D) = θ − α ∇_θ L̂(θ; D),                L̂(θ; D) = − Σ_{τ∈D} Σ_t log π_θ(a_t|s_t) Â_t / (K·H)

with Â_t = Σ_{t'≥t} r_t' (reward-to-go, no baseline) and L̂ the library's REINFORCE loss
(rl.losses.reinforce_loss: a mean over the valid steps). Every trajectory is enumerated (A^H of them
per task), so J is an exact finite sum, Σ_k (1/#tasks) Σ_D p_θ(D) J_k(θ'(θ, D)), differentiable in θ;
autograd in float64 gives the exact meta-gradient

    ∇J = E[ (∂θ'/∂θ)ᵀ ∇J_k(θ') ]  +  E[ J_k(θ') ∇_θ log p_θ(D) ]
          through the inner step       through the sampling of D (log p_θ(D) = Σ_{τ∈D} Σ_t log π_θ(a_t|s_t))

(`exact_objective(..., through_sampling=False)` holds p_θ(D) fixed: the first term alone).
`expected_estimate` gives the exact expectation of any estimator over all (task, D, D') triples.

Episodes come as `TabularEpisodes`: the same fields and shapes as course_lib.rl.episodes.Episodes
(obs and actions one-hot, [T, N, H, S] and [T, N, H, A]), kept here so the task room imports no RL.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import torch

from ..functional import Params, batched
from ..inner import inner_update
from ..validation import check_int


@dataclass(frozen=True)
class TabularMDP:
    next_state: torch.Tensor   # [S, A] long: s' = next_state[s, a]
    reward: torch.Tensor       # [K, S, A]: task k's reward for taking a in s
    horizon: int
    start: int = 0

    @property
    def n_states(self) -> int:
        return self.next_state.shape[0]

    @property
    def n_actions(self) -> int:
        return self.next_state.shape[1]

    @property
    def n_tasks(self) -> int:
        return self.reward.shape[0]


def goal_mdp(horizon: int = 3, goals=(1, 2), dtype=torch.float64) -> TabularMDP:
    """3 states × 2 actions; 0 →(a0) 1, 0 →(a1) 2, 1 → {0, 2}, 2 → {1, 0}; task k pays 1 on reaching goals[k]."""
    check_int(horizon, "horizon", 1, 6)
    next_state = torch.tensor([[1, 2], [0, 2], [1, 0]])
    goals = torch.as_tensor(goals)
    if goals.dim() != 1 or not ((goals >= 0) & (goals < 3)).all():
        raise ValueError(f"goals must be states in [0, 2], got {goals.tolist()}")
    reward = (next_state[None] == goals[:, None, None]).to(dtype)
    return TabularMDP(next_state, reward, horizon)


def initial_logits(mdp: TabularMDP, scale: float = 0.5, seed: int = 0, dtype=torch.float64) -> Params:
    """θ = {"logits": [S, A]}, seeded normal × scale, as leaves that require grad."""
    g = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(mdp.n_states, mdp.n_actions, generator=g, dtype=dtype)
    return {"logits": logits.requires_grad_(True)}


@dataclass
class TabularEpisodes:
    obs: torch.Tensor        # [T, N, H, S] one-hot states
    actions: torch.Tensor    # [T, N, H, A] one-hot actions
    rewards: torch.Tensor    # [T, N, H]
    mask: torch.Tensor       # [T, N, H] (all ones: no termination)
    advantages: torch.Tensor | None = None

    @property
    def n_tasks(self) -> int:
        return self.obs.shape[0]

    def total_return(self) -> torch.Tensor:
        return (self.rewards * self.mask).sum(-1)

    def with_(self, **changes) -> "TabularEpisodes":
        return replace(self, **changes)


def log_prob(params: Params, episodes: TabularEpisodes) -> torch.Tensor:
    """log π_θ(a_t|s_t) per step, [T, N, H], for task-batched logits [T, S, A]."""
    table = torch.log_softmax(params["logits"], -1)
    return torch.einsum("tnhs,tsa,tnha->tnh", episodes.obs, table, episodes.actions)


def with_reward_to_go(episodes: TabularEpisodes) -> TabularEpisodes:
    """Â_t = Σ_{t'≥t} r_t' (undiscounted, no baseline, no normalisation: the estimators stay unbiased)."""
    r = episodes.rewards * episodes.mask
    return episodes.with_(advantages=r.flip(-1).cumsum(-1).flip(-1) * episodes.mask)


def inner_loss(params: Params, episodes: TabularEpisodes) -> torch.Tensor:
    """L̂(θ; D) per task: −Σ log π · Â / (valid steps), the same formula as rl.losses.reinforce_loss."""
    m = episodes.mask
    return -(log_prob(params, episodes) * episodes.advantages * m).sum((1, 2)) / m.sum((1, 2)).clamp(min=1)


def _rollout(mdp: TabularMDP, actions: torch.Tensor, tasks: torch.Tensor, dtype) -> TabularEpisodes:
    """Episodes for given action indices [T, N, H] in tasks [T]."""
    T, N, H = actions.shape
    S, A = mdp.n_states, mdp.n_actions
    states = torch.empty(T, N, H, dtype=torch.long)
    s = torch.full((T, N), mdp.start, dtype=torch.long)
    for t in range(H):
        states[..., t] = s
        s = mdp.next_state[s, actions[..., t]]
    rewards = mdp.reward.to(dtype)[tasks[:, None, None], states, actions]
    return TabularEpisodes(torch.nn.functional.one_hot(states, S).to(dtype),
                           torch.nn.functional.one_hot(actions, A).to(dtype), rewards,
                           torch.ones(T, N, H, dtype=dtype))


@torch.no_grad()
def sample_episodes(params: Params, mdp: TabularMDP, tasks: torch.Tensor, n_episodes: int,
                    generator: torch.Generator | None = None) -> TabularEpisodes:
    """N episodes in each task of `tasks` [T] with π of task-batched `params` [T, S, A] (reward-to-go filled)."""
    check_int(n_episodes, "n_episodes", 1)
    probs = torch.softmax(params["logits"].detach(), -1)
    T, H, A = len(tasks), mdp.horizon, mdp.n_actions
    actions = torch.empty(T, n_episodes, H, dtype=torch.long)
    s = torch.full((T, n_episodes), mdp.start, dtype=torch.long)
    rows = torch.arange(T)[:, None].expand(T, n_episodes)
    for t in range(H):
        p = probs[rows, s].reshape(-1, A)
        actions[..., t] = torch.multinomial(p, 1, generator=generator).view(T, n_episodes)
        s = mdp.next_state[s, actions[..., t]]
    return with_reward_to_go(_rollout(mdp, actions, torch.as_tensor(tasks), probs.dtype))


def all_batches(mdp: TabularMDP, n_episodes: int, dtype=torch.float64) -> tuple[TabularEpisodes, torch.Tensor]:
    """Every (task, batch of N episodes) pair: episodes with T = #tasks · (A^H)^N rows, and each row's task."""
    check_int(n_episodes, "n_episodes", 1, 3)
    sequences = torch.tensor(list(itertools.product(range(mdp.n_actions), repeat=mdp.horizon)))   # [A^H, H]
    choice = torch.tensor(list(itertools.product(range(len(sequences)), repeat=n_episodes)))       # [B, N]
    tasks = torch.arange(mdp.n_tasks).repeat_interleave(len(choice))
    actions = sequences[choice].repeat(mdp.n_tasks, 1, 1)                                          # [T, N, H]
    return with_reward_to_go(_rollout(mdp, actions, tasks, dtype)), tasks


def batch_log_prob(params: Params, episodes: TabularEpisodes) -> torch.Tensor:
    """log p_θ(D) = Σ_{τ∈D} Σ_t log π_θ(a_t|s_t) per row, [T]."""
    return (log_prob(params, episodes) * episodes.mask).sum((1, 2))


def adapt(params: Params, episodes: TabularEpisodes, alpha: float, steps: int = 1,
          first_order: bool = False) -> Params:
    """θ'(θ, D) for every row: `steps` steps of the one inner loop (course_lib.inner) on L̂(θ; D)."""
    return inner_update(params, lambda p: inner_loss(p, episodes).sum(), alpha, steps, first_order)


def expected_return(params: Params, mdp: TabularMDP, tasks: torch.Tensor) -> torch.Tensor:
    """J_k(φ) = Σ_τ p_φ(τ) R_k(τ) exactly, for task-batched φ [T, S, A] and tasks [T]."""
    one, _ = all_batches(replace(mdp, reward=mdp.reward[:1]), 1, params["logits"].dtype)   # all τ, task-free
    n = one.n_tasks
    T = len(tasks)
    traj = TabularEpisodes(one.obs.transpose(0, 1).expand(T, n, *one.obs.shape[2:]),
                           one.actions.transpose(0, 1).expand(T, n, *one.actions.shape[2:]),
                           one.rewards.transpose(0, 1).expand(T, n, mdp.horizon), one.mask.transpose(0, 1).expand(T, n, -1))
    logp = (log_prob(params, traj)).sum(-1)                                                    # [T, n]
    states, actions = traj.obs.argmax(-1), traj.actions.argmax(-1)
    returns = mdp.reward.to(logp.dtype)[torch.as_tensor(tasks)[:, None, None], states, actions].sum(-1)
    return (logp.exp() * returns).sum(-1)


def exact_objective(theta: Params, mdp: TabularMDP, alpha: float, n_pre: int, steps: int = 1,
                    through_sampling: bool = True) -> torch.Tensor:
    """J(θ) above, exactly (a scalar). through_sampling=False holds p_θ(D) fixed (its gradient is then
    the first term only: what the paper's estimator estimates)."""
    pre, tasks = all_batches(mdp, n_pre, theta["logits"].dtype)
    rows = batched(theta, pre.n_tasks)
    p_pre = batch_log_prob(rows, pre).exp()
    phi = adapt(rows, pre, alpha, steps) if steps else rows
    weight = p_pre if through_sampling else p_pre.detach()
    return (weight * expected_return(phi, mdp, tasks)).sum() / mdp.n_tasks


def exact_meta_gradient(theta: Params, mdp: TabularMDP, alpha: float, n_pre: int, steps: int = 1,
                        through_sampling: bool = True) -> torch.Tensor:
    """∇_θ J(θ) as a tensor shaped like θ["logits"]."""
    return torch.autograd.grad(exact_objective(theta, mdp, alpha, n_pre, steps, through_sampling),
                               theta["logits"])[0]


def expected_estimate(loss_fn, theta: Params, mdp: TabularMDP, alpha: float, n_pre: int, n_post: int,
                      steps: int = 1) -> torch.Tensor:
    """E[∇ loss_fn] over tasks, pre-update batches D ∼ π_θ and post-update batches D' ∼ π_θ'(θ,D), exactly.

    loss_fn(rows, pre, post, old_log_prob) → [rows] is an estimator's surrogate for task-batched params
    `rows` (one row per (task, D, D') triple); old_log_prob = log π_θ'(a|s) on D' (the sampling policy).
    The expectation is ∇ Σ_rows P(row) · loss(row) with the probabilities P held fixed."""
    pre, tasks = all_batches(mdp, n_pre, theta["logits"].dtype)
    post_all, _ = all_batches(replace(mdp, reward=mdp.reward[:1]), n_post, theta["logits"].dtype)
    B = post_all.n_tasks
    with torch.enable_grad():
        phi = adapt({k: v.detach().requires_grad_(True) for k, v in batched(theta, pre.n_tasks).items()},
                    pre, alpha, steps, first_order=True) if steps else batched(theta, pre.n_tasks)
    phi = {k: v.detach() for k, v in phi.items()}
    rep = lambda x: x.repeat_interleave(B, 0)                        # row r = (pre row r // B, post batch r % B)
    tile = lambda x: x.repeat(pre.n_tasks, *([1] * (x.dim() - 1)))
    tasks_rows = rep(tasks)
    post_actions = tile(post_all.actions.argmax(-1))
    post = with_reward_to_go(_rollout(mdp, post_actions, tasks_rows, pre.rewards.dtype))
    pre_rows = TabularEpisodes(*(rep(f) for f in (pre.obs, pre.actions, pre.rewards, pre.mask, pre.advantages)))
    phi_rows = {k: rep(v) for k, v in phi.items()}
    with torch.no_grad():
        old = log_prob(phi_rows, post)
        prob = (batch_log_prob(batched(theta, pre.n_tasks), pre).exp().repeat_interleave(B)
                * (old * post.mask).sum((1, 2)).exp()) / mdp.n_tasks
    rows = batched(theta, len(tasks_rows))
    loss = loss_fn(rows, pre_rows, post, old)
    return torch.autograd.grad((prob * loss).sum(), theta["logits"])[0]


def sample_meta_batch(theta: Params, mdp: TabularMDP, n_rows: int, n_pre: int, n_post: int, alpha: float,
                      steps: int = 1, generator: torch.Generator | None = None):
    """n_rows independent draws of (task, D ∼ π_θ, D' ∼ π_θ'(θ,D)), as the trainer samples them: θ per row
    as fresh leaves (so ∇ of the summed surrogate holds each row's own estimate), pre and post episodes,
    and log π_old on D'. Returns (rows, pre, post, old_log_prob)."""
    check_int(n_rows, "n_rows", 1)
    tasks = torch.randint(mdp.n_tasks, (n_rows,), generator=generator)
    rows = {k: v.detach().unsqueeze(0).repeat(n_rows, *[1] * v.dim()).requires_grad_(True) for k, v in theta.items()}
    pre = sample_episodes(rows, mdp, tasks, n_pre, generator)
    with torch.enable_grad():
        phi = adapt({k: v.detach().requires_grad_(True) for k, v in rows.items()}, pre, alpha, steps,
                    first_order=True) if steps else rows
    phi = {k: v.detach() for k, v in phi.items()}
    post = sample_episodes(phi, mdp, tasks, n_post, generator)
    return rows, pre, post, log_prob(phi, post).detach()
