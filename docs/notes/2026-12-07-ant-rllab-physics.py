"""Lab experiment (docs/notes/2026-12-07-ant-rllab-physics.md): train on rllab's Ant physics.

Since the end of that note, `course_lib.tasks.locomotion`'s Ant has the physics of `--rllab-step` itself
(`ant_xml`, `_AntTask.reset_model`, one step per action). With `--rllab-step` the script applies the
same edits again and trains and evaluates exactly as `python -m course_lib train` and
`bench/navigation.py` now do (checked episode by episode); `python -m course_lib train` with the same
arguments resumes its checkpoints. Without `--rllab-step` it now trains in neither physics: a record only.

Two differences between the workbook's Ant (gymnasium v5) and the authors' (rllab's ant.xml and
MujocoEnv, cbfinn/maml_rl), both untested before:

* contacts: rllab's default geom has solimp=".8 .8 .01" (softer, wider than MuJoCo's .9 .95 .001);
* the start: rllab resets to the xml's `init_qpos` (torso at 0.55, ankles bent ±1 rad, inside their
  30°–70° limits) + N(0, 0.01) on qpos, N(0, 0.1) on qvel; gymnasium to qpos0 (torso at 0.75, legs
  flat, ankles outside their limits) + U(−0.1, 0.1) on qpos, 0.1·N(0, 1) on qvel.

and, with `--rllab-step` (first argument), a third:

* the integration step: rllab's ant.xml takes one 0.02 s RK4 step per action (`timestep="0.02"`, no
  frame skip); the workbook two of 0.01 s (gymnasium's timestep, `frame_skip=2`).

Everything else (observation, rewards, termination, 0.02 s per action) stays the workbook's. The
script swaps the AntVel/AntDir classes the sampler builds (its workers fork after this) and runs the
usual trainer, so the other arguments are those of `python -m course_lib train`:

    python docs/notes/2026-12-07-ant-rllab-physics.py ant_dir --algo oracle --iterations 400 --seed 0 \\
        --meta-batch 20 --checkpoint-every 10 --out runs/mujoco/ant_dir_oracle_rllab.pt --resume
    python docs/notes/2026-12-07-ant-rllab-physics.py --rllab-step ant_vel --algo oracle --iterations 400 \\
        --seed 0 --meta-batch 20 --checkpoint-every 10 --out runs/mujoco/ant_vel_oracle_rllab_step.pt --resume

`eval ENV NAME=CHECKPOINT … [--steps K] [--seed S]` instead evaluates checkpoints in the same physics as
`bench/navigation.py --by-task` does the shipped ones (the paper's 40 test tasks, its episodes per step):

    python docs/notes/2026-12-07-ant-rllab-physics.py --rllab-step eval ant_vel oracle=runs/mujoco/ant_vel_oracle_rllab_step.pt
"""
import os
import shlex
import sys
import tempfile

import gymnasium
import numpy as np

from course_lib import runs
from course_lib.__main__ import main
from course_lib.tasks import locomotion

RLLAB_INIT_QPOS = np.array([0.0, 0.0, 0.55, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, -1.0, 0.0, -1.0, 0.0, 1.0])
GYM_XML = os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets", "ant.xml")


RLLAB_STEP = sys.argv[1:2] == ["--rllab-step"]
if RLLAB_STEP:
    sys.argv.pop(1)


def rllab_xml() -> str:
    """gymnasium's ant.xml with rllab's contact parameters on the default geom (and its 0.02 s step)."""
    with open(GYM_XML) as f:
        xml = f.read()
    default_geom = '<geom conaffinity="0" condim="3" density="5.0"'
    assert xml.count(default_geom) == 1, f"{GYM_XML}: default geom not found"
    xml = xml.replace(default_geom, default_geom + ' solref=".02 1" solimp=".8 .8 .01"')
    if RLLAB_STEP:
        option = '<option integrator="RK4" timestep="0.01"/>'
        assert xml.count(option) == 1, f"{GYM_XML}: option not found"
        xml = xml.replace(option, '<option integrator="RK4" timestep="0.02"/>')
    path = os.path.join(tempfile.mkdtemp(), "ant_rllab.xml")
    with open(path, "w") as f:
        f.write(xml)
    return path


XML = rllab_xml()


def rllab_physics(cls):
    class Rllab(cls):
        def __init__(self, task=None, **kwargs):
            super().__init__(task, xml_file=XML, **({"frame_skip": 1} if RLLAB_STEP else {}), **kwargs)

        def reset_model(self):
            qpos = RLLAB_INIT_QPOS + 0.01 * self.np_random.standard_normal(self.model.nq)
            qvel = 0.1 * self.np_random.standard_normal(self.model.nv)
            self.set_state(qpos, qvel)
            return self._get_obs()

    Rllab.__name__ = Rllab.__qualname__ = cls.__name__
    return Rllab


for name in ("AntVel", "AntDir"):
    locomotion.LOCOMOTION_ENVS[name] = rllab_physics(locomotion.LOCOMOTION_ENVS[name])

# the checkpoint records this script, not `python -m course_lib`, as the command that trained it
PROG = shlex.join(["python", "docs/notes/2026-12-07-ant-rllab-physics.py", *(["--rllab-step"] if RLLAB_STEP else [])])
command_line = runs.command_line
runs.command_line = lambda _prog, argv, out=None: command_line(PROG, argv[1:], out)     # argv[0]: "train"


def name_and_path(value: str) -> tuple[str, str]:
    """A NAME=CHECKPOINT argument of `eval`."""
    import argparse
    name, _, path = value.partition("=")
    if not name or not os.path.isfile(path):
        raise argparse.ArgumentTypeError(f"expected NAME=CHECKPOINT with an existing checkpoint file, got {value!r}")
    return name, path


def evaluate(argv) -> None:
    """`bench/navigation.py --by-task`'s table for the checkpoints NAME=PATH in argv, in this physics."""
    import argparse
    import importlib.util

    from course_lib.rl.config import ENV_DEFAULTS
    from course_lib.rl.reproduction import evaluate_reproduction
    parser = argparse.ArgumentParser(prog="2026-12-07-ant-rllab-physics.py eval")
    parser.add_argument("env", choices=("ant_vel", "ant_dir"))
    parser.add_argument("models", nargs="+", type=name_and_path, help="NAME=CHECKPOINT, e.g. maml=runs/mujoco/x.pt")
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    spec = importlib.util.spec_from_file_location("navigation", os.path.join(os.path.dirname(__file__), "..", "..",
                                                                             "bench", "navigation.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    table = evaluate_reproduction(args.env, dict(args.models), steps=args.steps, seed=args.seed,
                                  episodes=ENV_DEFAULTS[args.env]["episodes"])
    print(table.summary() + "\n\n" + bench.by_task(table, table.tasks))


if __name__ == "__main__":
    sys.exit(evaluate(sys.argv[2:]) if sys.argv[1:2] == ["eval"] else main(["train", *sys.argv[1:]]))
