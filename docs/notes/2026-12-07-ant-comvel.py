"""Lab note 2026-12-07: AntVel's return scored with our velocity (the torso's displacement over the control
step, gymnasium's) and with rllab's `comvel` (the velocity of the Ant's whole centre of mass), for the
shipped MAML policy after one step on 8 of the paper's test tasks, 3 episodes each, in gymnasium's `step`.

    python docs/notes/2026-12-07-ant-comvel.py
"""
import mujoco
import numpy as np
import torch

from course_lib.checkpoints import shipped
from course_lib.rl.config import load_policy
from course_lib.rl.episodes import action_distribution
from course_lib.rl.evaluate import adaptation_steps, paper_test_tasks
from course_lib.tasks.locomotion import AntVel

policy, theta, config = load_policy(shipped("ant_vel_maml_lvc"))
tasks = paper_test_tasks("ant_vel")[:8]
_, (params, _) = adaptation_steps(policy, theta, config, tasks, steps=1, episodes=20, seed=0)
generator, rows = torch.Generator().manual_seed(1), []
for i, goal in enumerate(map(float, tasks)):
    env, task_params = AntVel(task=goal), {k: v[i:i + 1] for k, v in params.items()}
    torso = env.model.body("torso").id
    for episode in range(3):
        obs, _ = env.reset(seed=100 * i + episode)
        ours = rllab = 0.0
        v_torso, v_com = [], []
        for t in range(200):
            mean, log_std = action_distribution(policy, task_params, torch.as_tensor(obs, dtype=torch.float32).view(1, 1, -1))
            action = (mean + log_std.exp() * torch.randn(mean.shape, generator=generator)).view(-1).numpy()
            obs, reward, terminated, _, info = env.step(np.clip(action, -1, 1))
            mujoco.mj_subtreeVel(env.model, env.data)
            v_torso.append(info["x_velocity"])
            v_com.append(env.data.subtree_linvel[torso][0])
            ours += reward
            rllab += reward - AntVel.forward(goal, v_torso[-1]) + AntVel.forward(goal, v_com[-1])
            if terminated:
                break
        rows.append((ours, rllab, np.std(v_torso), np.std(v_com)))
        print(f"goal {goal:.3f}  return: ours {ours:7.2f}  rllab's comvel {rllab:7.2f}", flush=True)
ours, rllab, sd_torso, sd_com = np.mean(rows, axis=0)
print(f"mean return: ours {ours:.2f}, with rllab's comvel {rllab:.2f}")
print(f"within-episode std of the velocity: torso {sd_torso:.3f}, centre of mass {sd_com:.3f}")
