"""The chain-rule curvature (course_lib.rl.curvature) equals double backprop at the sampling point θ_old,
and — as its derivation says — only there: away from θ_old the dropped third-order term is not zero."""
import pytest
import torch

from course_lib.meta import CONTEXT
from course_lib.rl.curvature import meta_kl_curvature
from course_lib.rl.train import meta_loss_and_kl
from course_lib.rl.trpo import hvp_double_backprop

from test_rl_trpo import float64_meta_batch, perturbed


def both_hvps(theta, batch, config, first_order):
    names = [k for k in theta if k != CONTEXT]
    params = [theta[k] for k in names]
    kl = meta_loss_and_kl(theta, batch, config, first_order=first_order)[1]
    return (hvp_double_backprop(kl, params), meta_kl_curvature(theta, names, batch, config.alpha, first_order),
            sum(p.numel() for p in params))


@pytest.mark.parametrize("env", ["navigation2d", "point_velocity"])
@pytest.mark.parametrize("first_order", [False, True])
def test_chain_rule_equals_double_backprop_at_theta_old(env, first_order):
    batch, theta, config = float64_meta_batch(env, "maml", T=3, N=3)
    exact, chain, n = both_hvps(theta, batch, config, first_order)
    for seed in range(3):
        v = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        a, b = exact(v), chain(v)
        assert float(a.norm()) > 1e-6
        assert float((a - b).norm() / a.norm()) < 1e-9


def test_chain_rule_differs_away_from_theta_old():
    """Moved off θ_old, ∇_θ' KL ≠ 0 and the third-order term the chain rule drops shows up."""
    batch, theta, config = float64_meta_batch("navigation2d", "maml", T=3, N=3)
    exact, chain, n = both_hvps(perturbed(theta, scale=0.1), batch, config, first_order=False)
    v = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a, b = exact(v), chain(v)
    assert float((a - b).norm() / a.norm()) > 1e-6


def test_second_order_curvature_is_not_the_first_order_one():
    batch, theta, config = float64_meta_batch("navigation2d", "maml", T=3, N=3)
    _, second, n = both_hvps(theta, batch, config, first_order=False)
    _, first, _ = both_hvps(theta, batch, config, first_order=True)
    v = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a, b = second(v), first(v)
    assert float((a - b).norm() / a.norm()) > 1e-4
