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
# 5. explore the task and the step size α with a widget, and explain what you see;
# 6. explain why first-order MAML can beat MAML-RL's "second-order" gradient here and lose to it on
#    2-D navigation;
# 7. say what changes for a four-legged Ant — its reward terms, its cost per step — and read its
#    adaptation the same way.
#
# **Prerequisites.** Notebook 04 (MAML-TRPO, the test protocol, the reproduction table); notebook 05
# (first-order MAML); notebook 07, section 4 (one step to a new target velocity, in 1-D).
#
# **Run time.** About 1–2 minutes on a 2-core CPU (measured: 99 s with a benchmark sharing the two
# cores; 36 s idle before AntDir joined section 6): the held-out
# evaluations (sections 3 and 6) and rendering the clips (sections 4–6) take most of it. Each move of the widget (section 5) takes a few
# seconds more. Training is *not* run here — it takes an hour or more (section 2).

# %%
# %matplotlib inline
import os

import numpy as np
import torch
from IPython.display import display
from tqdm.auto import tqdm

from course_lib.checkpoints import load_checkpoint, shipped
from course_lib.ui.plots import new_figure
from course_lib.rl.evaluate import reference_returns
from course_lib.ui.locomotion import locomotion_adaptation, locomotion_widget, training_command
from course_lib.ui.render import rendering_available
from course_lib.ui.returns import plot_training_returns, reproduction_table
from course_lib.tasks.locomotion import (ANT_CTRL_COST, CHEETAH_CTRL_COST, HORIZON, AntDir, AntVel,
                                        HalfCheetahDir, HalfCheetahVel)

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
# where $v_x$ is the forward velocity of the torso. An episode lasts 200 steps (the horizon, `HORIZON`):

# %% tags=["nbval-check-output"]
for cls in (HalfCheetahVel, HalfCheetahDir):
    env = cls()
    low, high = env.action_space.low[0], env.action_space.high[0]
    print(f"{cls.__name__}: observation {env.observation_space.shape[0]}-D, action {env.action_space.shape[0]}-D "
          f"in [{low:g}, {high:g}], dt = {env.dt:g} s per step, horizon {HORIZON} steps = {HORIZON * env.dt:g} s")
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
# with `frame_skip=1`, the paper's period (printed above as dt). With gymnasium's default our direction
# run levelled off at a one-step return of 124, against the paper's 293 ([docs/reproduction.md](../docs/reproduction.md)).
#
# ## 2. Meta-training: the shipped checkpoints
#
# The policies were meta-trained with MAML-TRPO exactly as in notebook 04 (`course_lib.rl.train`): a
# 2×100 ReLU Gaussian policy, one inner REINFORCE step with α = 0.1, a TRPO outer step with
# $\varepsilon_{\mathrm{KL}} = 0.01$ (the trust region, `--max-kl`),
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
    print(f"  quoted below: {env.removeprefix('halfcheetah_')}_train_after = {after:.1f}")

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
    short = env.removeprefix("halfcheetah_")
    quoted = {f"{short}_{model}_{k}": table.returns[model][k].mean() for model in ("maml", "fomaml") for k in (0, 1, 2)}
    quoted[f"{short}_maml_minus_paper_1"] = table.paired["maml"][1][0]          # task by task, same 10 tasks
    quoted[f"{short}_paper_1"] = np.mean(reference_returns(env)["maml"][1])    # the paper's mean over its 40 tasks
    print("  quoted below: " + ", ".join(f"{key} = {value:.1f}" for key, value in quoted.items()))

# %% [markdown]
# Three things to read off. First, the *shape*: the paper's MAML gains most with the first step and
# little after — the step finds the task, and later steps fine-tune; ours does the same on the
# velocities. Second, the *scale*, best read from the paired
# lines under each table, which compare with the paper's returns on the same 10 tasks (these are not a
# fair tenth of its 40 — slower goals, mostly backwards — so the open squares, the paper's means over
# all 40, are not the comparison). On the velocities our MAML goes from
# <span data-out="vel_maml_0">−83.0</span> to <span data-out="vel_maml_1">−56.6</span> in one step, and task
# by task it is ahead of the paper's MAML by <span data-out="vel_maml_minus_paper_1">10.3</span>. On the
# directions second-order MAML goes from <span data-out="dir_maml_0">4.2</span> to
# <span data-out="dir_maml_1">244.5</span>, task by task <span data-out="dir_maml_minus_paper_1">−39.5</span>
# against the paper's, and a second step does not help it (<span data-out="dir_maml_2">223.2</span>) where
# the paper's still gains (313.5 over its 40 tasks). The baselines bracket MAML as in the paper: the
# oracle, told its task, is the ceiling; the pretrained policy, which averaged over all tasks, gains far
# less from a step. Third, in the direction task the return before adaptation averages over both
# directions, so a policy that runs fast — either way — still scores near zero until the step tells it
# which way.
#
# **First against second order.** The FOMAML row (notebook 05) was meta-trained in the same way, with
# the first-order meta-gradient. On the velocities it is behind MAML after one step
# (<span data-out="vel_fomaml_1">−65.3</span>). On the directions it is level with MAML after one step on
# these tasks (<span data-out="dir_fomaml_1">261.9</span>, with a wide error bar: see the split below) and far
# ahead after two (<span data-out="dir_fomaml_2">348.3</span>), above the paper's MAML. Over all 40 of the
# paper's tasks FOMAML is clearly ahead after one step as well — about 305 against second-order MAML's
# 180, with the paper's MAML at <span data-out="dir_paper_1">293.2</span>
# ([docs/reproduction.md](../docs/reproduction.md#mujoco-locomotion)); the training
# curve in section 2 already showed second-order MAML's post-step return rising only slowly after
# iteration 40 (<span data-out="dir_train_after">172.6</span> over its last 10 iterations).
#
# **Why first order can win here and lose on navigation.** [Notebook 09](09_pitfalls_ablations.ipynb)
# (sections 4–5) finds the opposite on 2-D navigation: there second-order MAML learns faster than
# FOMAML in every cell of its ablation, even per second of training. Both can hold, because MAML-RL's
# "second-order" gradient is not the gradient of its objective. As implemented — the paper's estimator,
# and `course_lib`'s — it differentiates the REINFORCE surrogate through the inner step with the
# pre-update episodes 𝒟 *held fixed* ([notebook 04](04_meta_rl_navigation.ipynb), section 3, "The
# meta-gradient in full"). It therefore omits the score-function term
# $\mathbb E_\tau\big[J(\theta')\sum_t\nabla_\theta\log\pi_\theta(a_t \mid s_t)\big]$ — how θ changes the episodes that θ′
# is computed from — and part of the inner Hessian, so its extra term, the path through
# $\partial\theta'/\partial\theta = I - \alpha\nabla^2\mathcal L^{\text{RE}}$, is a *biased* estimate of the true
# correction (DiCE, Foerster et al. 2018; ProMP's LVC estimator, Rothfuss et al. 2019). It is also a
# noisy one: a Hessian of log-probabilities summed over 200 steps and 6 action dimensions, estimated
# from 20 episodes per task — the longer the horizon and the more action dimensions, the noisier such
# estimates are (the variance that ProMP's LVC estimator was built to reduce). Navigation has 2 action
# dimensions and at most 100 steps. First order drops the term altogether: biased too, but with less
# variance. Whether the biased, noisy second-order term helps is therefore not a law but a measurement,
# per problem: it helps on navigation (notebook 09), and it did not help on the cheetah directions here.
# (A [lab note](../docs/notes/2026-11-22-halfcheetah-what-moved-the-returns.md) measured the term on the
# directions: consistent from batch to batch, which points at its bias more than its noise.) The bias it
# was: with ProMP's LVC estimator in place of the paper's, and nothing else changed, second-order MAML
# reaches 310 after one step on the paper's tasks (`halfcheetah_dir_maml_lvc`, 300 iterations; [notebook
# 11](11_meta_gradient_estimators.ipynb), section 5).
#
# **How these numbers were reached.** The full tables on the paper's 40 tasks, the spread over
# evaluation seeds, a second training seed and the runs tried on the way are logged in
# [docs/reproduction.md](../docs/reproduction.md#log-2026-12-05-how-notebook-08s-numbers-were-reached).
#
# All held-out tasks with the same direction are *the same task*; their returns after one step differ
# only because the step is computed from 20 noisy episodes. Split by direction, for both methods:

# %% tags=["nbval-ignore-output"]
directions = tables["halfcheetah_dir"].tasks
for model in ("maml", "fomaml"):
    after_one_step = tables["halfcheetah_dir"].returns[model][1]
    for d in (-1.0, 1.0):
        r = after_one_step[directions == d]
        print(f"{model:>6}, direction {d:+.0f}: {len(r)} tasks, return after one step {r.mean():6.1f} "
              f"(from {r.min():.0f} to {r.max():.0f})")
    print(f"  quoted below: {model}_dir_min_1 = {after_one_step.min():.1f}")

# %% [markdown]
# Every one of second-order MAML's steps found the direction here — its lowest one-step return,
# <span data-out="maml_dir_min_1">178.3</span>, is far above the roughly zero of a cheetah that does not move — but how
# far the step gets varies from task to task, by the luck of its 20 episodes. FOMAML's steps get further
# when they find the direction, but one of its ten sent the cheetah the wrong way
# (<span data-out="fomaml_dir_min_1">−140.8</span>): that one task widens its error bar. The paper's one-step
# return (293 ± 8.8 over 40 tasks) implies a step that finds the direction almost every time.
#
# ## 4. Seeing it: the cheetah before and after one step
#
# Numbers are one thing; a cheetah that turns round is another. MuJoCo draws off-screen through OpenGL.
# Without a display (a server, CI, a container) the portable choice is **OSMesa**, a software OpenGL
# (Debian/Ubuntu: `apt-get install libosmesa6`): `course_lib.ui.render` sets `MUJOCO_GL=osmesa` on
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
# where it is sure. Both policies started at σ = 1: the velocity policy, after 780 iterations, has shrunk
# it to about 0.2; the direction policy, after 75, has hardly shrunk it — one reason why its clip after
# one step (mean action, return 197.2) scored more than its sampled episodes (146.4 on average). Now the
# goal-velocity task, with a target of 1.5 m/s — here the step must learn *how fast*, not which way:

# %% tags=["nbval-ignore-output"]
fast = runs["1.5 m/s"]
if fast.rendered:
    display(fast.show_clips())
print(fast.summary())                  # without rendering, it ends with the reason

# %%
fast.figure

# %% [markdown]
# On this task one step does the work (from −180.6 to −86.9 per episode), and the two smaller steps after
# it make things worse again (−122.8, −127.0): one task, 20 episodes per step. Averaged over the 10 tasks
# of section 3, later steps still help a little — the table, not one task, is the reliable picture.
#
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
# ## 6. The Ant: four legs, the same one step
#
# The paper's other robot is the **Ant** (gymnasium's Ant v5 with rllab's physics and rewards): a torso
# on four legs, eight actuated joints, and an observation that also holds the external contact forces on
# its bodies. Its two task families mirror the cheetah's, with goal velocities $v^* \sim U[0, 3]$ m/s, and
# the rewards are the authors' (`rllab/envs/mujoco/ant_env_rand*.py` in cbfinn/maml_rl):
#
# | task family | reward per step |
# |---|---|
# | `AntVel` | $-\lvert v_x - v^*\rvert + 1 - 0.005\,\lVert a\rVert^2 - c + 0.05$ |
# | `AntDir` | $d\,v_x - 0.005\,\lVert a\rVert^2 - c + 0.05$ |
#
# with $c = 5\cdot 10^{-4}\sum \operatorname{clip}(f_{\text{contact}}, -1, 1)^2$ the contact cost and 0.05
# the reward for staying upright; an episode ends early when the torso leaves 0.2–1 m above the floor.
# (Gymnasium's own Ant charges 0.5‖a‖² and pays 1 per step upright: with those weights a random policy
# scored about −400 where the paper's scored −78.6 — another detail that decides whether numbers compare.)
#
# The physics is the authors' too. Their ant.xml differs from gymnasium's in three places: softer
# contacts, one 0.02 s RK4 step per action where gymnasium takes two of 0.01 s, and a start with the
# ankles bent inside their joint limits where gymnasium's starts them outside. In gymnasium's physics
# TRPO learned to run far more slowly: our AntVel oracle levelled off near 60 where in rllab's it reaches
# the paper's 108 in the same 400 iterations, and our AntDir oracle reached 344 where in rllab's it
# reaches 487 ([lab note](../docs/notes/2026-12-07-ant-rllab-physics.md)).

# %% tags=["nbval-check-output"]
for cls in (AntVel, AntDir):
    env = cls()
    print(f"{cls.__name__}: observation {env.observation_space.shape[0]}-D, action {env.action_space.shape[0]}-D, "
          f"dt = {env.dt:g} s per step, horizon {HORIZON} steps = {HORIZON * env.dt:g} s")
    print(f"  6 sampled tasks: {np.round(cls.sample_tasks(6, np.random.default_rng(1)), 2)}")
    env.close()
model = AntVel().model
print(f"control cost weight: {ANT_CTRL_COST}; one {model.opt.timestep:g} s RK4 step per action; "
      f"contacts solref {model.geom_solref[0]} solimp {model.geom_solimp[0, :3]} (rllab's)")

# %% [markdown]
# A MAML iteration on the Ant simulates the same 320,000 steps as on the cheetah, but each step costs
# about six times as much (more bodies, contacts), so sampling takes over a third of an iteration (the
# cheetah's: a seventh), and the shipped AntVel run took over half a day on 2 cores
# ([docs/scale-out.md](../docs/scale-out.md) measures it and models it on a cluster). The shipped
# AntVel policy is second-order MAML with ProMP's LVC estimator (notebook 11), at the paper's settings
# otherwise. It trained 1170 iterations in gymnasium's physics, then 160 in rllab's (the jump near the
# end of the curve); the command it prints resumes it:

# %% tags=["nbval-ignore-output"]
ant = load_checkpoint(shipped("ant_vel_maml_lvc"))
print(f"ant_vel_maml_lvc: {ant['iteration']} meta-iterations, {ant['wall_time'] / 3600:.1f} h of training "
      f"({ant['wall_time'] / ant['iteration']:.0f} s per iteration); reproduce or resume with\n"
      f"  {training_command('ant_vel_maml_lvc')}")
last = ant["history"][-20:]
ant_before, ant_after = (np.mean([h[k] for h in last]) for k in ("return_before", "return_after"))
print(f"quoted below: ant_iterations = {ant['iteration']}, ant_train_before = {ant_before:.1f}, "
      f"ant_train_after = {ant_after:.1f}")
paper = reference_returns("ant_vel")["maml"]
fig, ax = new_figure(width=6.4, height=4.0)
plot_training_returns(ax, {"maml_lvc": ant["history"]},
                      reference={"paper, before adaptation (held-out)": float(np.mean(paper[0])),
                                 "paper, after one step (held-out)": float(np.mean(paper[1]))},
                      title="ant_vel: shipped MAML (LVC) run");

# %% [markdown]
# On held-out tasks, as in section 3 — ten of the paper's 40 AntVel test tasks, 20 episodes per step,
# one step, beside the shipped baselines:

# %% tags=["nbval-ignore-output"]
ant_table = reproduction_table("ant_vel", models=("maml_lvc", "pretrain", "random", "oracle"), steps=1,
                               episodes=20, n_tasks=10, seed=0)
print(ant_table.summary())
quoted = {f"ant_{model}_{k}": r[k].mean() for model, r in ant_table.returns.items() for k in range(len(r))}
quoted["ant_paper_1"] = np.mean(reference_returns("ant_vel")["maml"][1])
print("quoted below: " + ", ".join(f"{key} = {value:.1f}" for key, value in quoted.items()))

# %%
ant_table.figure

# %% [markdown]
# **AntVel: the paper's, within its error.** On these 10 tasks our MAML goes from
# <span data-out="ant_maml_lvc_0">91.2</span> to <span data-out="ant_maml_lvc_1">129.9</span> in one step; the
# paired line puts it about 3 below the paper's MAML on the same tasks, well inside the error (these 10 are
# easier than the paper's 40: its mean over all of them is <span data-out="ant_paper_1">96.7</span>). Over all 40
# tasks and four evaluation seeds ours gives 95.7 ([docs/reproduction.md](../docs/reproduction.md#the-ant-issue-23-in-progress)).
# The run has <span data-out="ant_iterations">1330</span> iterations, and over its last 20 its
# training-task return was <span data-out="ant_train_before">15.4</span> before and
# <span data-out="ant_train_after">85.5</span> after the step, from about −60 at the start. The shape is
# MAML's: the step adds about 40 here (68 over all 40 tasks; the paper's 66) where the pretrained policy
# gains nothing (<span data-out="ant_pretrain_0">29.7</span> → <span data-out="ant_pretrain_1">27.8</span>),
# and the oracle, told its velocity, does better still (<span data-out="ant_oracle_0">148.9</span>; 111.9
# over all 40 tasks, the paper's 107.9).
#
# And the clips: the Ant asked for 1.5 m/s, before and after one step (mean actions, as in section 4).
# One task, 20 episodes per step: the sampled return rises by about 47, and the mean-action clip speeds
# up from about 0.9 to 1.3 m/s. With σ still 0.4–0.7 the mean action is a different controller from
# the noisy one that was trained (question 3 below), and an Ant that falls ends its episode early, so
# the clips and the sampled returns can disagree either way.

# %% tags=["nbval-ignore-output"]
ant_run = locomotion_adaptation("ant_vel", 1.5, alpha=0.1, steps=1, episodes=20, seed=0,
                                checkpoint="ant_vel_maml_lvc")
if ant_run.rendered:
    display(ant_run.show_clips())
print(ant_run.summary())

# %%
ant_run.figure

# %% [markdown]
# **AntDir**, the Ant running forwards or backwards, costs twice as much per iteration: the paper
# takes 40 episodes per step for it where AntVel takes 20. Its shipped MAML run (LVC again; meta-batch
# 20 for its first 1 840 iterations, to halve the cost, then the paper's 40) is younger than the AntVel
# run; here it is on ten of the paper's 40 test directions, 40 episodes per step, beside the pretrained,
# random and oracle policies:

# %% tags=["nbval-ignore-output"]
ant_dir = load_checkpoint(shipped("ant_dir_maml_lvc"))
print(f"ant_dir_maml_lvc: {ant_dir['iteration']} meta-iterations, {ant_dir['wall_time'] / 3600:.1f} h of training; "
      f"reproduce or resume with\n  {training_command('ant_dir_maml_lvc')}")
ant_dir_table = reproduction_table("ant_dir", models=("maml_lvc", "pretrain", "random", "oracle"), steps=1,
                                   episodes=40, n_tasks=10, seed=0)
print(ant_dir_table.summary())
quoted = {f"antdir_{model}_{k}": r[k].mean() for model, r in ant_dir_table.returns.items() for k in range(len(r))}
quoted["antdir_paper_1"] = np.mean(reference_returns("ant_dir")["maml"][1])
quoted["antdir_iterations"] = ant_dir["iteration"]
quoted["antdir_oracle_iterations"] = load_checkpoint(shipped("ant_dir_oracle"))["iteration"]
print("quoted below: " + ", ".join(f"{key} = {value:.1f}" for key, value in quoted.items()))

# %%
ant_dir_table.figure

# %% [markdown]
# Before the step the policy leans forwards (<span data-out="antdir_maml_lvc_0">-149.5</span> here,
# where eight of the ten directions are −1; −71.7 over all 40); one gradient step on the task's own
# episodes turns it into a runner, <span data-out="antdir_maml_lvc_1">446.9</span>, where the pretrained
# policy gains little (<span data-out="antdir_pretrain_0">-13.8</span> →
# <span data-out="antdir_pretrain_1">-7.3</span>). That is MAML's picture, still short of the paper's
# <span data-out="antdir_paper_1">499.1</span>. Of its <span data-out="antdir_iterations">1960</span>
# iterations, 855 were in gymnasium's physics and the rest in rllab's, where it first lost ground and
# has climbed since (from iteration 1 060 with a trust region twice the paper's, δ = 0.02, and from
# 1 840 with the paper's meta-batch of 40, after 240 iterations at a standstill with 20). The oracle, told its direction and trained in rllab's physics from the start, runs at
# <span data-out="antdir_oracle_0">493.0</span> after <span data-out="antdir_oracle_iterations">400</span>
# iterations of plain TRPO, near the paper's oracle (524.8 after 1 975): in this physics the Ant learns
# to run at the paper's pace, and AntDir's MAML needs more iterations in it. The numbers over all 40
# directions are in
# [docs/reproduction.md](../docs/reproduction.md#the-ant-issue-23-in-progress).

# %% [markdown]
# And AntDir's clips: the Ant asked to run backwards, before and after one step on 40 of its own
# episodes (mean actions). Before the step the mean action runs it forwards, the wrong way, at about
# 1.0 m/s; after it the Ant runs backwards at about 2.5 m/s.

# %% tags=["nbval-ignore-output"]
ant_dir_run = locomotion_adaptation("ant_dir", -1.0, alpha=0.1, steps=1, episodes=40, seed=0, every=6,
                                    checkpoint="ant_dir_maml_lvc")
if ant_dir_run.rendered:
    display(ant_dir_run.show_clips())
print(ant_dir_run.summary())

# %%
ant_dir_run.figure

# %% [markdown]
# ## Check your understanding
#
# 1. The observation holds joint angles and velocities but not the task. What would an oracle policy
#    that *is* told $v^*$ or $d$ show about the limit of one-step adaptation?
#
# <details><summary>Answer</summary>
#
# The oracle needs no adaptation: it shows what a policy of this size earns once the task is known, so
# it is the ceiling for the adapted policies, and the gap between MAML after k steps and the oracle is
# the price of having to *infer* the task from a few noisy episodes. On the 10 tasks of section 3 that
# gap closes on the velocities (oracle −39.0; MAML −56.6 after one step, −40.9 after three) but not on
# the directions (oracle 469.7; MAML 244.0 after one step, less after more): there a step finds the
# direction but still does not run as fast as a policy that knew it all along.
#
# </details>
#
# 2. In the direction task, why is a return near 0 before adaptation not evidence that the policy has
#    learned nothing? What would a good unadapted policy do?
#
# <details><summary>Answer</summary>
#
# The return before adaptation is averaged over both directions: running at the same speed forwards
# earns $+$ on half the tasks and $-$ on the other half, so any task-blind policy scores near zero,
# fast or not. MAML does not optimise the return at θ but the return after one step from θ; a good θ
# moves (so that its episodes carry information — a cheetah that stands still gets little reward signal
# either way) and is *poised*: one REINFORCE step on those episodes flips it into running the rewarded
# way. Ours scores 4.2 before and 244.0 after one step on these tasks; the shipped policy happens to
# drift backwards before adapting (section 4: −0.74 m/s in the forwards clip).
#
# </details>
#
# 3. The clips use the mean action, the returns sampled actions. When would the two disagree most —
#    early or late in meta-training — and why?
#
# <details><summary>Answer</summary>
#
# Early. The policy starts with σ = 1 on actions clipped to [−1, 1], so a sampled action is mostly noise
# and the mean action is a quite different (smoother) controller. Training shrinks σ where the policy is
# sure, and then the sampled actions stay close to the mean. The two shipped policies show both ends:
# the direction policy (75 iterations, σ ≈ 0.9) scored 197.2 with its mean action after one step and
# 146.4 with sampled actions; the velocity policy (780 iterations, σ ≈ 0.2) −86.1 and −86.9.
#
# </details>
#
# 4. The inner step uses 20 episodes of 200 steps. Which of the two task families needs more episodes
#    to estimate its gradient well, and why (think of what the reward tells you in each)?
#
# <details><summary>Answer</summary>
#
# The velocities, for the same precision. In the direction task the reward $d\,v_x$ is linear in the
# velocity, so the task gradient is $d$ times one and the same vector (plus the control cost's, the
# same in every task): the step only needs its *sign*, one bit, and every episode's return says
# "faster this way" with the same sign. In the velocity task
# the reward $-\lvert v_x - v^*\rvert$ bends at $v^*$: episodes faster and slower than the target pull
# the gradient in opposite directions, the signal shrinks as the policy nears $v^*$, and a continuous
# target must be read off, not one bit. The direction task's risk is different: with few episodes the
# sign estimate is occasionally wrong, and then the step sends the cheetah the wrong way (FOMAML's
# −138.5 task in section 3) — rare, but costly.
#
# </details>
#
# 5. The authors' own direction checkpoint was trained with a trust region $\varepsilon_{\mathrm{KL}}$ = 0.02;
#    ours with 0.01 (with 0.02 our run reached the same plateau near 180, then declined). What does a
#    larger $\varepsilon_{\mathrm{KL}}$ buy per iteration, and what does it risk when each meta-gradient is
#    estimated from few episodes?
#
# <details><summary>Answer</summary>
#
# It buys a longer step: TRPO's step length is $\sqrt{2\varepsilon_{\mathrm{KL}} / x^\top H x}$, so doubling
# $\varepsilon_{\mathrm{KL}}$ moves θ √2 times as far per iteration — faster progress while the estimated
# direction is good. The risk: the direction comes from 40 tasks × 20 episodes and is noisy (and, in
# MAML-RL, biased), the quadratic model of the KL holds less well far from θ_old, and the line search
# checks the surrogate on the same episodes that produced the gradient. A longer step follows the error
# further, so the return can stall or fall once the true gradient is small beside the noise — as our
# 0.02 run did after its plateau.
#
# </details>
#
# 6. With gymnasium's default control period (0.05 s) the same 200 steps last 10 s. Why are the returns
#    of the two settings not comparable, even though the reward formula is the same?
#
# <details><summary>Answer</summary>
#
# The return is a sum of per-step rewards, not a time integral, and the steps mean different things.
# With 0.05 s per step the episode is five times longer in time (10 s against 2 s): far more of it is
# spent at speed rather than accelerating from rest, each action is held five times as long (a coarser
# controller, another control problem), and the control cost counts one action per 0.05 s instead of per
# 0.01 s. The same policy quality gives a different mean $v_x$ per step and a different return: another
# task, with returns on another scale — so 124 there cannot be compared with the paper's 293.
#
# </details>
#
# 7. Changing only the initial weights (torch's default → rllab's, whose output layer starts 2.4×
#    larger) nearly doubled the direction task's one-step return (about 100 → 180, in half the
#    iterations). MAML optimises the initialisation; why does the *starting point* of that optimisation
#    still matter after a hundred TRPO iterations? (How far can θ move per iteration under
#    $\varepsilon_{\mathrm{KL}}$ = 0.01?)
#
# <details><summary>Answer</summary>
#
# Not far: each TRPO step may change the policy by a mean KL of at most 0.01, a small move, so after
# 75–150 iterations θ has travelled a limited distance from where it started, and the weight scale it
# started with still shapes the landscape it explores. Moreover the inner step has a fixed
# α = 0.1: how much one step changes the actions depends on the scale of the weights (a larger output
# layer makes the mean action more sensitive to θ), and that sensitivity is exactly what MAML needs. The
# meta-objective is non-convex, and a plateau like the second-order run's near 180 can depend on where
# the run began.
#
# </details>
#
# 8. On the cheetah directions FOMAML ended ahead of second-order MAML; on 2-D navigation (notebook 09)
#    second order wins even per second. Give two reasons why the "second-order" MAML-RL gradient need not
#    help, and say how you would decide for a new problem.
#
# <details><summary>Answer</summary>
#
# (1) It is biased: it differentiates the REINFORCE surrogate with the pre-update episodes held fixed,
# so it omits the score-function term of their sampling distribution and part of the inner Hessian
# (notebook 04, section 3; DiCE and ProMP's LVC correct it). (2) It is estimated from 20 episodes per
# task, and Hessian estimates get noisier with long horizons and many action dimensions — 200 steps and
# 6 actions here, at most 100 steps and 2 actions on navigation. First order is biased too, but cheaper
# and less noisy. Decide by measuring: same tasks, same budget (iterations *and* seconds), several training
# seeds, mean ± standard error — as notebook 09 does.
#
# </details>
#
# **Exercises.** There is no MuJoCo exercise: an exercise must run in seconds, and these policies take
# hours to train. The building blocks are the same as in 1-D, and [`exercises/ex02_meta_rl.ipynb`](../exercises/ex02_meta_rl.ipynb)
# practises them: the target-velocity reward (2.4) and one-step adaptation, MAML's inner loop for RL
# (2.5); worked solutions in `solutions/ex02_meta_rl.ipynb`.
#
# **Mini-project (suggested, hours of CPU).** Resume a run with the command from section 2 for more
# iterations and watch the adaptation curve of section 3 move towards the paper's. The open question
# is the direction MAML run: it levelled off near 180 after ~70 iterations and was still there after
# 310 ([lab note](../docs/notes/2026-11-22-halfcheetah-what-moved-the-returns.md)) — does another seed, or `--fisher-tasks 0`, get it past FOMAML's ~310? Or take the Ant
# further (section 6: resume `ant_dir_maml_lvc` towards the paper's 499.1, as its oracle already nearly is). Or take the direction run further with a
# less biased second-order estimator: LVC reaches 310 after 300 iterations (notebook 11, section 5) —
# does ProMP's meta-optimizer (`--meta-optimizer promp`) or a second training seed do as well?
#
# ## Takeaways
#
# * The cheetah never sees its task: one REINFORCE step on 20 episodes must read it from the rewards —
#   and it does most of the work (on 10 of the paper's tasks, −83.0 → −56.6 on the velocities, 4.2 → 244.0
#   on the directions).
# * A reproduction hinges on "details": the control period (0.01 s, not gymnasium's 0.05 s) changes the
#   task, and the initial weights changed the result. Compare on the paper's own tasks, task by task, and
#   know the noise of the evaluation itself.
# * On the velocities our MAML matches the paper's after one step; on the directions our first-order run
#   reaches the paper's MAML, while our second-order MAML stalls lower with the paper's estimator — and
#   passes it (310) with ProMP's LVC estimator (notebook 11).
# * MAML-RL's "second-order" gradient holds the pre-update episodes fixed: it is biased (DiCE, ProMP/LVC)
#   and, with long horizons and many action dimensions, noisy. Whether it helps is measured per problem:
#   it helps on navigation (notebook 09), and on the cheetah directions once its bias is removed.
# * The clips show the mean action, the returns include the exploration noise σ; a policy whose σ is
#   still near 1 can do better in the clip than its returns say.
#
# **Next:** [notebook 09 — pitfalls and ablations](09_pitfalls_ablations.ipynb).
