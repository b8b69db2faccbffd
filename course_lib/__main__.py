"""Command line for the MAML Workbook.

    python -m course_lib train sinusoid --algo maml|fomaml|reptile|cavia|metasgd|pretrain|oracle|random
    python -m course_lib train navigation2d --algo maml|fomaml|cavia|reptile|pretrain|oracle|random
    python -m course_lib train point_velocity --algo ...
    python -m course_lib train halfcheetah_dir|halfcheetah_vel|ant_vel|ant_dir --algo maml|fomaml|pretrain|oracle|random
    python -m course_lib train fewshot --algo maml|fomaml|reptile|cavia|pretrain [--n-way 5 --k-shot 1 ...]
    python -m course_lib doctor        installed versions vs requirements.txt, and a seeded fingerprint

Every run shows a progress bar, writes an atomic checkpoint (and a CSV of metrics beside it) every
--checkpoint-every iterations, and with --resume continues exactly where an interrupted run stopped.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .validation import at_least

RL_PROBLEMS = ("navigation2d", "point_velocity", "halfcheetah_vel", "halfcheetah_dir", "ant_vel", "ant_dir")


def main(argv=None) -> int:
    args_list = sys.argv[1:] if argv is None else list(argv)
    if args_list[:2] == ["train", "fewshot"]:             # its own options: course_lib/fewshot/train.py
        from .fewshot.train import main as fewshot_main
        return fewshot_main(args_list[2:], prog="python -m course_lib train fewshot")
    parser = argparse.ArgumentParser(prog="python -m course_lib", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="meta-train a model (resumable, with a progress bar)")
    train.add_argument("problem", choices=("sinusoid", *RL_PROBLEMS))
    train.add_argument("--algo", default="maml")
    train.add_argument("--iterations", type=at_least(0))
    train.add_argument("--seed", type=at_least(0), default=0)
    train.add_argument("--alpha", type=float, help="inner-loop step size α")
    train.add_argument("--steps", type=at_least(0), help="inner-loop steps")
    train.add_argument("--meta-batch", type=at_least(1), help="tasks per meta-update")
    train.add_argument("--meta-lr", type=float, help="Adam learning rate of the outer loop")
    train.add_argument("--episodes", type=at_least(1), help="RL: episodes per task and step")
    train.add_argument("--meta-optimizer", choices=("trpo", "adam", "promp"),
                       help="RL: outer-loop optimizer (promp: ProMP's clipped objective, several Adam steps per batch)")
    train.add_argument("--promp-steps", type=at_least(1),
                       help="RL, --meta-optimizer promp: Adam steps per meta-batch on the same episodes (default 5)")
    train.add_argument("--fisher-tasks", type=int, help="RL: tasks in TRPO's KL-Hessian estimate (0 = all)")
    train.add_argument("--max-kl", type=float, help="RL: TRPO's trust region δ")
    train.add_argument("--policy-init", choices=("torch", "xavier"),
                       help="RL: the policy's initial weights (default xavier, rllab's; torch: nn.Linear's)")
    train.add_argument("--estimator", choices=("paper", "dice", "lvc"),
                       help="RL, --algo maml: the meta-gradient estimator (default paper; dice: unbiased, "
                            "lvc: ProMP's low-variance curvature)")
    train.add_argument("--checkpoint-every", type=at_least(1))
    train.add_argument("--out", type=Path, help="checkpoint path (default runs/<problem>_<algo>.pt)")
    train.add_argument("--resume", action="store_true", help="continue from --out if it exists")
    train.add_argument("--threads", type=at_least(1), default=1,
                       help="torch threads for the learner (default 1; a run repeats exactly only with the "
                            "same count; 2 is ~1.6× faster for HalfCheetah MAML on 2 cores, but slower for the Ant, "
                            "whose baseline solves hit MKL's threaded-LU failure and its fallback)")
    train.add_argument("--sampler", choices=("local", "ray"), default="local",
                       help="RL, MuJoCo: sample in processes on this machine (local, one per core) or in Ray "
                            "actors, one per CPU of a Ray cluster (docs/scale-out.md)")
    train.add_argument("--ray-address",
                       help="--sampler ray: the cluster's address (auto, host:port); default: a local Ray for the run")
    sub.add_parser("doctor", help="installed versions against requirements.txt and a seeded fingerprint")
    args = parser.parse_args(argv)
    if args.command == "train":
        if args.out is not None and args.out.is_dir():
            parser.error(f"--out {args.out} is a folder; give a checkpoint file name such as {args.out / 'model.pt'}")
    if args.command == "doctor":
        from .doctor import main as doctor
        return doctor()

    import torch

    torch.set_num_threads(args.threads)
    rl = args.problem in RL_PROBLEMS
    options = dict(iterations=args.iterations, seed=args.seed, alpha=args.alpha, steps=args.steps,
                   meta_batch=args.meta_batch, meta_lr=args.meta_lr, checkpoint_every=args.checkpoint_every)
    if rl:
        options.update(episodes=args.episodes, meta_optimizer=args.meta_optimizer, fisher_tasks=args.fisher_tasks,
                       max_kl=args.max_kl, policy_init=args.policy_init, estimator=args.estimator,
                       promp_steps=args.promp_steps)
    elif any(v is not None for v in (args.episodes, args.meta_optimizer, args.fisher_tasks, args.max_kl,
                                     args.policy_init, args.estimator, args.promp_steps)):
        parser.error("--episodes, --meta-optimizer, --fisher-tasks, --max-kl, --policy-init, --estimator and "
                     "--promp-steps apply to RL problems only")
    if args.promp_steps is not None and args.meta_optimizer != "promp":
        parser.error("--promp-steps applies to --meta-optimizer promp only")
    if not rl and (args.sampler != "local" or args.ray_address is not None):
        parser.error("--sampler and --ray-address apply to RL problems only")   # the RL ones: rl.envs.check_sampler
    overrides = {k: v for k, v in options.items() if v is not None}
    out = args.out or Path("runs") / f"{args.problem}_{args.algo}.pt"
    from .runs import command_line
    command = command_line("python -m course_lib", sys.argv[1:] if argv is None else list(argv), out)
    try:
        if rl:
            from .rl.config import default_rl_config
            from .rl.train import train_rl
            ckpt = train_rl(default_rl_config(args.problem, args.algo, **overrides), out=out, resume=args.resume,
                            command=command, sampler=args.sampler, ray_address=args.ray_address)
        else:
            from .sinusoid.config import default_config
            from .sinusoid.train import train_sinusoid
            ckpt = train_sinusoid(default_config(args.algo, **overrides), out=out, resume=args.resume,
                                  command=command)
    except (ValueError, ConnectionError) as err:      # bad settings, a checkpoint that does not fit, no Ray
        parser.error(str(err))                        # cluster at --ray-address: before any work
    last = ckpt["history"][-1] if ckpt["history"] else {}
    shown = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k in ("val_loss", "return_before", "return_after"))
    print(f"saved {out}: iteration {ckpt['iteration']}, wall time {ckpt['wall_time']:.1f} s" + (f", {shown}" if shown else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
