"""Hessian-vector products of a Gaussian MLP policy's losses by Pearlmutter's R-operator (1994).

    R{f} = d/dε f(θ + εv) |_{ε=0}

For μ = MLP_θ(s) (ReLU hidden layers, z_l = h_{l−1} W_lᵀ + b_l, h_l = relu(z_l), μ = z_L) and
π_θ(a|s) = N(μ, diag σ²), one forward pass carries the tangents R{z_l} and one backward pass the
gradient's tangents, so ∇²f · v costs about three passes and builds no graph. Double backprop
records the backward pass and differentiates it: twice the matrix products, plus ReLU's zero second
derivative materialised as tensors of zeros. Both products below are exact (tested against double
backprop, course_lib/rl/curvature.py uses them):

    reinforce_hvp   ∇²L v,   L = −Σ_t w_t Â_t log π(a_t|s_t)           (with the network's own curvature)
    fisher_vp       ∇²KL v at π_θ = π_old:  J_μᵀ diag(w/σ²) J_μ v  and  2 Σ_t w_t · v_logσ

w_t = mask_t / (valid steps of the task): the masked means of course_lib/rl/losses.py. Data and
parameters are task-batched: rows [T, R, ·], weights [T, out, in]; a direction may be shared by all
tasks ([out, in]) or per task ([T, out, in]).
"""
from __future__ import annotations

import torch

from ..functional import Params


def mlp_names(policy) -> list[tuple[str, str]]:
    """(weight, bias) names of the mean network's linear layers, input to output."""
    return [(f"mean.net.{i}.weight", f"mean.net.{i}.bias")
            for i, layer in enumerate(policy.mean.net) if isinstance(layer, torch.nn.Linear)]


class Tape:
    """The forward pass of the task-batched mean network, keeping each layer's input and ReLU mask."""

    def __init__(self, weights: list[torch.Tensor], biases: list[torch.Tensor], x: torch.Tensor):
        self.weights, self.inputs, self.masks = weights, [], []
        h = x
        for l, (W, b) in enumerate(zip(weights, biases)):
            self.inputs.append(h)
            z = h @ W.mT + b.unsqueeze(-2)
            if l < len(weights) - 1:
                self.masks.append((z > 0).to(z.dtype))
                h = z * self.masks[-1]
        self.mean = z

    def tangent(self, dW: list[torch.Tensor], db: list[torch.Tensor]):
        """R{μ} and every layer's input tangent R{h_{l−1}} (None for the data)."""
        dh, dhs = None, []
        for l, (W, h) in enumerate(zip(self.weights, self.inputs)):
            dhs.append(dh)
            dz = h @ dW[l].mT + db[l].unsqueeze(-2)
            if dh is not None:
                dz = dz + dh @ W.mT
            if l < len(self.weights) - 1:
                dh = dz * self.masks[l]
        return dz, dhs

    def backward(self, delta: torch.Tensor, keep: bool = False):
        """∇ of Σ_rows ⟨delta, μ⟩: per-layer (∂W, ∂b), and with keep=True each layer's δ_l = ∂/∂z_l."""
        grads, deltas = [], []
        for l in reversed(range(len(self.weights))):
            deltas.insert(0, delta)
            grads.insert(0, (delta.mT @ self.inputs[l], delta.sum(-2)))
            if l:
                delta = (delta @ self.weights[l]) * self.masks[l - 1]
        return (grads, deltas) if keep else grads

    def r_backward(self, deltas, r_delta, dW, dhs):
        """R{(∂W, ∂b)} from δ_l, R{δ_L} and the forward tangents (ReLU'' = 0 almost everywhere)."""
        grads = []
        for l in reversed(range(len(self.weights))):
            r_gW = r_delta.mT @ self.inputs[l]
            if dhs[l] is not None:
                r_gW = r_gW + deltas[l].mT @ dhs[l]
            grads.insert(0, (r_gW, r_delta.sum(-2)))
            if l:
                r_delta = (r_delta @ self.weights[l] + deltas[l] @ dW[l]) * self.masks[l - 1]
        return grads


def _rows(x: torch.Tensor) -> torch.Tensor:
    """[T, N, H, ·] → [T, N·H, ·]"""
    return x.reshape(x.shape[0], -1, *x.shape[3:])


def step_weights(mask: torch.Tensor) -> torch.Tensor:
    """w_t = mask_t / valid steps of its task, as rows [T, R]."""
    return _rows(mask) / mask.sum((1, 2)).clamp(min=1).unsqueeze(-1)


def _split(params: Params, names):
    return [params[w] for w, _ in names], [params[b] for _, b in names]


def reinforce_hvp(policy, theta: Params, episodes):
    """v ↦ ∇²L v per task, L_i = −Σ_t w_t Â_t log π_θ(a_t|s_t) (the REINFORCE loss) at θ (one θ for all tasks)."""
    names = mlp_names(policy)
    tape = Tape(*_split(theta, names), _rows(episodes.obs))
    diff = _rows(episodes.actions) - tape.mean                        # a − μ
    inv_var = torch.exp(-2 * theta["log_std"])
    c = (step_weights(episodes.mask) * _rows(episodes.advantages)).unsqueeze(-1)   # w_t Â_t
    _, deltas = tape.backward(-c * diff * inv_var, keep=True)          # δ_L = ∂L/∂μ

    def hvp(v: Params) -> Params:
        dW, db = _split(v, names)
        ds = v["log_std"].unsqueeze(-2)                                # [.., 1, act_dim]
        dmu, dhs = tape.tangent(dW, db)
        r_delta = c * (dmu + 2 * diff * ds) * inv_var                  # R{δ_L}
        grads = tape.r_backward(deltas, r_delta, dW, dhs)
        r_log_std = (2 * c * diff * (dmu + diff * ds) * inv_var).sum(-2)
        return _join(names, grads, r_log_std)
    return hvp


def fisher_vp(policy, phi: Params, episodes, scale: float = 1.0):
    """v ↦ ∇²_φ KL(π_old ‖ π_φ) v per task at φ = the sampling policy (so the Hessian is the Fisher
    matrix: the terms with ∂KL/∂μ = (μ − μ_old)/σ² vanish), times `scale`; φ task-batched."""
    names = mlp_names(policy)
    tape = Tape(*_split(phi, names), _rows(episodes.obs))
    w = scale * step_weights(episodes.mask).unsqueeze(-1)
    inv_var = torch.exp(-2 * phi["log_std"]).unsqueeze(-2)             # [T, 1, act_dim]

    def fvp(v: Params) -> Params:
        dW, db = _split(v, names)
        dmu, _ = tape.tangent(dW, db)
        grads = tape.backward(w * dmu * inv_var)
        return _join(names, grads, 2 * w.sum(-2) * v["log_std"])
    return fvp


def _join(names, grads, log_std) -> Params:
    out = {}
    for (w, b), (gW, gb) in zip(names, grads):
        out[w], out[b] = gW, gb
    out["log_std"] = log_std
    return out
