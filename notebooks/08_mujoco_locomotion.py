# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 08 · MuJoCo locomotion: a half-cheetah adapts in one step — and we watch it
#
# **Learning objectives.** After this notebook you can
# 1. state the MAML paper's two half-cheetah task families (§5.3) — a goal velocity or a running
#    direction — and explain why the policy can only find its task through its rewards;
# 2. read a MuJoCo meta-training run from its checkpoint (its curve and its cost), and reproduce or
#    resume it from the command line;
# 3. measure the return after 0–3 policy-gradient steps on held-out tasks and set it beside the paper's;
# 4. render MuJoCo headless on a CPU (OSMesa) and watch the cheetah before and after one step;
# 5. explore the task and the step size α with a widget, and explain what you see.
#
# **Prerequisites.** Notebook 04 (MAML-TRPO, the test protocol, the reproduction table); notebook 07,
# section 4 (one step to a new target velocity, in 1-D).
#
# **Run time.** About 30 s on a 2-core CPU (measured: 23–30 s on the idle machine, 29 s for Run All in
# JupyterLab; 35–55 s while other jobs share the two cores): the held-out evaluation (section 3) and
# rendering the clips (sections 4–5) take most of it. Each move of the widget (section 5) takes a few
# seconds more. Training is *not* run here — it takes an hour or more (section 2).

# %%
# %matplotlib inline
import os

import numpy as np
import torch
from IPython.display import display
from tqdm.auto import tqdm

from course_lib.checkpoints import load_checkpoint, shipped
from course_lib.plots import new_figure
from course_lib.rl.evaluate import reference_returns
from course_lib.rl.locomotion_widget import locomotion_adaptation, locomotion_widget, training_command
from course_lib.rl.render import rendering_available
from course_lib.rl.widgets import plot_training_returns, reproduction_table
from course_lib.tasks.locomotion import CHEETAH_CTRL_COST, HORIZON, HalfCheetahDir, HalfCheetahVel

torch.set_num_threads(1)          # small networks: one thread is fastest, and leaves a core free
ENVS = ("halfcheetah_vel", "halfcheetah_dir")

# %% tags=["nbval-ignore-output"]
RENDER = rendering_available()    # tries once to draw one frame; never raises
if RENDER:
    print(RENDER.reason)
else:
    print(f"No video in this notebook: {RENDER.reason}")
    print("Everything else — the numbers and the curves — still works.")

# %% [markdown]
# ## 1. Two families of tasks for one robot
#
# The robot is gymnasium's **HalfCheetah** (v5, MuJoCo): a planar two-legged body with six actuated
# joints. The policy sees joint angles and velocities — *not* its task — and sets the six torques. The
# paper's two task families change only the reward (`course_lib/tasks/locomotion.py`):
#
# | task family | one task | reward per step |
# |---|---|---|
# | `HalfCheetahVel` | a goal velocity $v^* \sim U[0, 2]$ m/s | $-\lvert v_x - v^*\rvert - 0.05\,\lVert a\rVert^2$ |
# | `HalfCheetahDir` | a direction $d \in \{-1, +1\}$, each with probability ½ | $d\,v_x - 0.05\,\lVert a\rVert^2$ |
#
# where $v_x$ is the forward velocity of the torso. An episode lasts $H = 200$ steps:

# %% tags=["nbval-check-output"]
for cls in (HalfCheetahVel, HalfCheetahDir):
    env = cls()
    low, high = env.action_space.low[0], env.action_space.high[0]
    print(f"{cls.__name__}: observation {env.observation_space.shape[0]}-D, action {env.action_space.shape[0]}-D "
          f"in [{low:g}, {high:g}], dt = {env.dt:g} s per step, H = {HORIZON} steps = {HORIZON * env.dt:g} s")
    print(f"  6 sampled tasks: {np.round(cls.sample_tasks(6, np.random.default_rng(1)), 2)}")
    env.close()
print(f"control cost weight: {CHEETAH_CTRL_COST}")

# %% [markdown]
# Nothing in the observation says which velocity or which direction is wanted. A single policy for
# the whole family can therefore only hedge — for the directions, running either way is rewarded in
# half of the tasks and punished in the other half. MAML looks for an initialisation θ from which **one
# policy-gradient step** on the task's own episodes finds the task: the sign of $d$, or how fast $v^*$ is.
# That step has to read it from the rewards of a handful of noisy 2-second runs.
#
# **A detail a reproduction hinges on: the control period.** The paper's cheetah (rllab's
# `half_cheetah.xml`) applies each action for *one* 0.01 s physics step, so its 200-step episodes last
# 2 s. Gymnasium's HalfCheetah applies each action for five steps (0.05 s) by default — the same robot,
# but 10 s episodes, coarser control and returns on another scale. `course_lib` uses gymnasium's env
# with `frame_skip=1`, the paper's period (printed above as dt). An earlier version of this workbook
# used gymnasium's default: after 380 meta-iterations its one-step return on the direction task was 124,
# against the paper's 293 after 100; with the paper's period, section 3 shows where we are now.
#
# ## 2. Meta-training: the shipped checkpoints
#
# The policies were meta-trained with MAML-TRPO exactly as in notebook 04 (`course_lib.rl.train`): a
# 2×100 ReLU Gaussian policy, one inner REINFORCE step with α = 0.1, a TRPO outer step with δ = 0.01,
# 40 tasks × 20 episodes per meta-iteration, and the policy's weights initialised as in the authors'
# code (rllab's Glorot-uniform, zero biases: `policy_init="xavier"`, the default — with torch's default
# `nn.Linear` init the direction run levelled off at a one-step return near 100 instead of 180, [lab note](../docs/notes/2026-11-22-halfcheetah-what-moved-the-returns.md));
# the sampler runs the cheetahs in worker processes (`course_lib/rl/mujoco_sampler.py`). The runs are
# far too long to repeat in a notebook, so we load them. Each checkpoint holds θ, the optimizer and
# random states, and the training history — and the command line that repeats it (with today's
# sampler statistically, not bit for bit: [docs/reproduction.md](../docs/reproduction.md); with `--resume` it continues an interrupted run from
# its last checkpoint):

# %% tags=["nbval-ignore-output"]
checkpoints = {env: load_checkpoint(shipped(f"{env}_maml")) for env in ENVS}
for env, ckpt in checkpoints.items():
    config, iterations = ckpt["config"], ckpt["iteration"]
    episodes = iterations * config["meta_batch"] * config["episodes"] * 2   # pre- and post-update episodes
    hours = ckpt["wall_time"] / 3600
    cost = f"{hours:.1f} h" if hours >= 1 else f"{60 * hours:.0f} min"
    print(f"{env}: {iterations} meta-iterations, {cost} of training "
          f"({ckpt['wall_time'] / iterations:.0f} s per iteration), {episodes:,} episodes = "
          f"{episodes * HORIZON:,} simulated steps")
    print(f"  meta-batch {config['meta_batch']} tasks × {config['episodes']} episodes; reproduce or resume with\n"
          f"  {training_command(f'{env}_maml')}\n")

# %% [markdown]
# The paper's own checkpoints had 475 iterations (velocities) and 100 (directions), at the same
# meta-batch. The training curve shows the mean return of
# each meta-batch's episodes before (dashed) and after (solid) the inner step — on that iteration's
# *training* tasks, so it is noisy. The horizontal lines are the paper's returns on its held-out tasks
# at the end of training, before and after one step, for scale:

# %%
fig, axes = new_figure(ncols=2, width=5.2, height=4.0)
for ax, (env, ckpt) in zip(axes, checkpoints.items()):
    paper = reference_returns(env)["maml"]
    plot_training_returns(ax, {"maml": ckpt["history"]},
                          reference={"paper, before adaptation (held-out)": float(np.mean(paper[0])),
                                     "paper, after one step (held-out)": float(np.mean(paper[1]))},
                          title=f"{env}: shipped MAML-TRPO run")

# %% [markdown]
# What to look for: does the solid curve rise above the dashed one — that is, does the inner step help —
# and does the gap grow with training? The gap, not the level of the dashed curve, is what MAML
# optimises. The run's own numbers:

# %% tags=["nbval-ignore-output"]
for env, ckpt in checkpoints.items():
    last = ckpt["history"][-min(10, len(ckpt["history"])):]
    before, after = (np.mean([h[k] for h in last]) for k in ("return_before", "return_after"))
    print(f"{env}: over the last {len(last)} iterations, mean return {before:.1f} before and {after:.1f} after "
          f"the inner step ({after - before:+.1f})")

# %% [markdown]
# ## 3. The adaptation curve on held-out tasks
#
# The paper's test protocol, as in notebook 04: fixed held-out tasks, and per step fresh episodes with
# the current policy, a linear baseline, one REINFORCE step (α = 0.1, then 0.05). We use the first 10
# of **the paper's own 40 test tasks** (`paper_test_tasks`, regenerated as its test scripts drew them)
# × 20 episodes per step, beside the paper's baselines trained and adapted the same way: a randomly
# initialised policy, a policy *pretrained* on all tasks at once (TRPO on the task distribution, no
# inner step in training), and the *oracle*, told its task in the observation (not adapted: one line).
# The open squares are the paper's means over its 40 tasks; the lines under each table compare task
# by task with the paper's returns on the same 10 tasks (FOMAML with the paper's MAML):

# %% tags=["nbval-ignore-output"]
tables = {env: reproduction_table(env, models=("maml", "fomaml", "pretrain", "random", "oracle"), steps=3, episodes=20,
                                  n_tasks=10, seed=0)
          for env in tqdm(ENVS, desc="held-out evaluation")}
for table in tables.values():
    print(table.summary(), end="\n\n")

# %%
for table in tables.values():
    display(table.figure)

# %% tags=["nbval-ignore-output"]
for env, table in tables.items():
    ours = table.returns["maml"].mean(1)
    paper = np.asarray(reference_returns(env)["maml"], dtype=np.float64)[:, :table.n_tasks].mean(1)   # same tasks
    print(f"{env}: on these {table.n_tasks} tasks one step changes the mean return by {ours[1] - ours[0]:+.1f} "
          f"here and by {paper[1] - paper[0]:+.1f} in the paper")

# %% [markdown]
# Three things to read off. First, the *shape*: the paper's MAML gains most with the first step and
# little after — the step finds the task, and later steps fine-tune. Second, the *scale*, best read
# from the paired lines under each table, which compare with the paper's returns on the same tasks:
# on the velocities our MAML is ahead of the paper's after one step on these 10 tasks (over all 40 in
# [docs/reproduction.md](../docs/reproduction.md): −76.9 against −78.6, +1.7 ± 3.3 task by task); on the directions second-order MAML is
# behind it (over all 40: 180 against 293), while the baselines bracket it as in the paper — the
# oracle, which is told its task, is the ceiling; the pretrained policy, which averaged over all tasks,
# gains far less from a step. The first 10 of the paper's tasks are not a fair tenth of the 40 (slower
# goals, mostly backwards), which is why the paired lines, not the open squares, are the comparison.
# Third, in the direction task the return before adaptation averages over both directions, so a
# policy that runs fast — either way — still scores near zero until the step tells it which way.
#
# The first-order row (FOMAML, notebook 05) is the surprise on the directions: on all 40 of the
# paper's tasks ([docs/reproduction.md](../docs/reproduction.md)) it beats second-order MAML after one step, 305 against 180 (from 278 to 327
# over four evaluation seeds: a step sometimes sends the cheetah the wrong way — on 10 tasks, as here,
# the spread is wider still), and it passes the paper's MAML after one step (293), two (331; paper 313)
# and three (357; paper 316); a second training seed of each gave the same order. Two seeds
# are a hint rather than a verdict — but a reminder that in RL the second-order term is itself
# estimated from 20 noisy episodes per task (notebook 05, end). On the velocities FOMAML (500
# iterations) ended level with MAML at 480 iterations; the shipped MAML, continued to 780, is ahead.
#
# All held-out tasks with the same direction are *the same task*; their returns after one step differ
# only because the step is computed from 20 noisy episodes. Split by direction:

# %% tags=["nbval-ignore-output"]
directions = tables["halfcheetah_dir"].tasks
after_one_step = tables["halfcheetah_dir"].returns["maml"][1]
for d in (-1.0, 1.0):
    r = after_one_step[directions == d]
    print(f"direction {d:+.0f}: {len(r)} tasks, return after one step {r.mean():6.1f} "
          f"(from {r.min():.0f} to {r.max():.0f})")

# %% [markdown]
# A wide spread for the same task means the one-step adaptation is unreliable: some steps find the
# direction, others do not — and one direction may be learned better than the other. The paper's
# one-step return (293 ± 8.8 over 40 tasks) implies a step that finds the direction almost every time.
#
# ## 4. Seeing it: the cheetah before and after one step
#
# Numbers are one thing; a cheetah that turns round is another. MuJoCo draws off-screen through OpenGL.
# Without a display (a server, CI, a container) the portable choice is **OSMesa**, a software OpenGL
# (Debian/Ubuntu: `apt-get install libosmesa6`): `course_lib.rl.render` sets `MUJOCO_GL=osmesa` on
# Linux unless you chose a backend yourself (with a GPU, `MUJOCO_GL=egl` is faster). Where nothing can
# render, `rendering_available()` says why and everything below still runs, without the clips.

# %% tags=["nbval-ignore-output"]
print("MUJOCO_GL =", os.environ.get("MUJOCO_GL", "(not set: MuJoCo's default)"))

# %% [markdown]
# `locomotion_adaptation` adapts the shipped policy to one task, exactly as in section 3 but for a
# single task, and rolls out two more episodes from the same start state: one with θ, one with the
# adapted θ′ after one step. The clips show the policy's **mean action** μ(s) — what it has learned,
# without its exploration noise — played in real time (every 4th frame of the 2 s episode):

# %% tags=["nbval-ignore-output"]
runs = {name: locomotion_adaptation(env, task, alpha=0.1, steps=3, episodes=20, seed=0)
        for name, env, task in tqdm([("forwards", "halfcheetah_dir", 1.0), ("1.5 m/s", "halfcheetah_vel", 1.5)],
                                    desc="adapt and render")}

# %% tags=["nbval-ignore-output"]
forwards = runs["forwards"]
if forwards.rendered:
    display(forwards.show_clips())
print(forwards.summary())                  # without rendering, it ends with the reason

# %%
forwards.figure

# %% [markdown]
# Left, the forward velocity during the two clipped episodes (shaded: the rewarded direction); right,
# the return after 0–3 steps, each dot one episode (sampled actions, as in training), beside the paper's mean. The clip's return can
# differ from the dots: the dots include the exploration noise σ, the clip does not. How large is it?

# %% tags=["nbval-ignore-output"]
for env, ckpt in checkpoints.items():
    print(f"{env}: σ of the six actions {np.round(torch.exp(ckpt['theta']['log_std']).numpy(), 2)} "
          f"(the actions are clipped to [−1, 1])")

# %% [markdown]
# A σ near 1 means that, in training, the actions were mostly noise; a meta-trained policy shrinks σ
# where it is sure. Now the goal-velocity task, with a target of 1.5 m/s — here the step must learn *how
# fast*, not which way:

# %% tags=["nbval-ignore-output"]
fast = runs["1.5 m/s"]
if fast.rendered:
    display(fast.show_clips())
print(fast.summary())                  # without rendering, it ends with the reason

# %%
fast.figure

# %% [markdown]
# ## 5. Explore
#
# Choose the task family, the target velocity or the direction, and the first step's size α (log scale;
# later steps use α/2). Each change adapts the policy on 20 fresh episodes per step and renders the two
# clips — a few seconds, while a "computing…" line shows above the (still old) output; settings you
# have tried before come back at once (they are cached).
#
# * α = 0.01 and α = 1: when does one step do too little, and when does it overshoot? Watch the
#   after-step clip as well as the curve.
# * Velocity 0 against 2: which target is easier for the *unadapted* policy, and why?
# * Backwards against forwards: is the unadapted policy biased towards one direction?

# %% tags=["nbval-ignore-output"]
locomotion_widget(env="halfcheetah_dir", direction=1.0, velocity=1.5, alpha=0.1, steps=3, episodes=20)

# %% [markdown]
# ## Check your understanding
#
# 1. The observation holds joint angles and velocities but not the task. What would an oracle policy
#    that *is* told $v^*$ or $d$ show about the limit of one-step adaptation?
# 2. In the direction task, why is a return near 0 before adaptation not evidence that the policy has
#    learned nothing? What would a good unadapted policy do?
# 3. The clips use the mean action, the returns sampled actions. When would the two disagree most —
#    early or late in meta-training — and why?
# 4. The inner step uses 20 episodes of 200 steps. Which of the two task families needs more episodes
#    to estimate its gradient well, and why (think of what the reward tells you in each)?
# 5. The authors' own direction checkpoint was trained with a trust region δ = 0.02; ours with 0.01 (with
#    0.02 our run peaked after 30 iterations and then declined). What does a larger δ buy per
#    iteration, and what does it risk when each meta-gradient is estimated from few episodes?
# 6. With gymnasium's default control period (0.05 s) the same 200 steps last 10 s. Why are the returns
#    of the two settings not comparable, even though the reward formula is the same?
# 7. Changing only the initial weights (torch's default → rllab's, whose output layer starts 2.4×
#    larger) nearly doubled the direction task's one-step return after the same training. MAML
#    optimises the initialisation; why does the *starting point* of that optimisation still matter
#    after a hundred TRPO iterations? (How far can θ move per iteration under δ = 0.01?)
#
# **Exercises.** There is no MuJoCo exercise: an exercise must run in seconds, and these policies take
# hours to train. The building blocks are the same as in 1-D, and [`exercises/ex02_meta_rl.ipynb`](../exercises/ex02_meta_rl.ipynb)
# practises them: the target-velocity reward (2.4) and one-step adaptation, MAML's inner loop for RL
# (2.5); worked solutions in `solutions/ex02_meta_rl.ipynb`.
#
# **Mini-project (suggested, hours of CPU).** Resume a run with the command from section 2 for more
# iterations and watch the adaptation curve of section 3 move towards the paper's. The open question
# is the direction MAML run: it levelled off near 180 after ~70 iterations and was still there after
# 310 ([lab note](../docs/notes/2026-11-22-halfcheetah-what-moved-the-returns.md)) — does another seed, or `--fisher-tasks 0`, get it past FOMAML's ~310? Or try the Ant
# (`ant_vel`, `ant_dir`: same commands, a 105-D observation).
#
# **Next:** [notebook 09 — pitfalls and ablations](09_pitfalls_ablations.ipynb).
