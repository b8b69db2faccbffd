"""`python -m course_lib doctor`: tell a broken install from a broken exercise.

Prints the installed version of every pinned requirement next to its pin, and a fingerprint of a
small seeded computation (20 MAML iterations on sinusoids, a meta-gradient, one navigation rollout).
Two machines that print the same fingerprint compute the same numbers.
"""
from __future__ import annotations

import hashlib
import platform
import re
from importlib import metadata
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements.txt"


def pinned_requirements(path: Path = REQUIREMENTS) -> dict[str, str]:
    pins = {}
    if path.exists():
        for line in path.read_text().splitlines():
            match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)", line)
            if match:
                pins[match.group(1)] = match.group(2)
    return pins


def version_report(pins: dict[str, str]) -> list[tuple[str, str, str, bool]]:
    """(package, pinned, installed, ok) for every pin; a local build tag such as +cpu is accepted."""
    rows = []
    for name, pinned in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        rows.append((name, pinned, installed, installed.split("+")[0] == pinned))
    return rows


def fingerprint(seed: int = 0) -> dict[str, float | str]:
    """A few seeded numbers from the library, and a short hash over them."""
    import numpy as np
    import torch

    from .functional import batched, parameters_of
    from .meta import meta_gradient
    from .models import GaussianPolicy
    from .rl.envs import make_batched_env
    from .rl.episodes import sample_episodes
    from .sinusoid.config import build_model, default_config, sample_batch
    from .sinusoid.train import train_sinusoid

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ckpt = train_sinusoid(default_config("maml", iterations=20, checkpoint_every=20, seed=seed, val_tasks=10),
                              progress=False)
        theta = {k: v.detach().clone().requires_grad_(True) for k, v in ckpt["theta"].items()}
        config = default_config("maml")
        batch = sample_batch(config, build_model(config), np.random.default_rng(seed), n_tasks=5)
        grads = meta_gradient(theta, batch, 0.01, method="maml")
        torch.manual_seed(seed)
        policy = GaussianPolicy(2, 2)
        env = make_batched_env("navigation2d", np.array([[0.3, -0.2]], dtype=np.float32), 4)
        episodes = sample_episodes(policy, batched(parameters_of(policy), 1), env, torch.Generator().manual_seed(seed))
    finally:
        torch.set_num_threads(threads)
    numbers = {
        "sinusoid MAML val loss after 20 iterations": ckpt["history"][-1]["val_loss"],
        "|meta-gradient|": float(sum(g.pow(2).sum() for g in grads.values()).sqrt()),
        "navigation return (4 episodes)": float(episodes.total_return().mean()),
    }
    digest = hashlib.sha256(" ".join(f"{v:.6e}" for v in numbers.values()).encode()).hexdigest()[:12]
    return numbers | {"fingerprint": digest}


def main() -> int:
    import torch

    print(f"Python {platform.python_version()} on {platform.machine()}, torch threads {torch.get_num_threads()}\n")
    rows = version_report(pinned_requirements())
    width = max((len(r[0]) for r in rows), default=10)
    print(f"{'package':{width}}  {'pinned':>10}  {'installed':>14}")
    for name, pinned, installed, ok in rows:
        print(f"{name:{width}}  {pinned:>10}  {installed:>14}  {'ok' if ok else 'MISMATCH'}")
    bad = [r[0] for r in rows if not r[3]]
    print("\nseeded run (seed 0):")
    for key, value in fingerprint().items():
        print(f"  {key}: {value if isinstance(value, str) else f'{value:.6f}'}")
    if bad:
        print(f"\n{len(bad)} package(s) differ from requirements.txt: {', '.join(bad)} — run `make lab` or "
              "`pip install -r requirements.txt` in the workbook's environment.")
        return 1
    print("\nall pinned packages match requirements.txt")
    return 0
