"""The paper's Neurogym tasks (App. C.2), one registry entry per task.

All three last exactly ``seq_len = 8`` steps at ``dt = 100 ms`` (fixation 0 ms), so every trial is
one row aligned at ``t = 0``: labels are 0 (fixation) for ``t < 7`` and the choice (1 or 2) at the
decision step ``t = 7``. Differences from the neurogym 0.0.2 that the paper used (neurogym 2.x is
what the registries serve):

* 2AF: 0.0.2 shows a fixation input of 1 for ``t = 0..6``; in 2.x it follows the 0 ms fixation
  period and is always 0.
* CXT: ``use_expl_context=True`` restores 0.0.2's 7 inputs with a one-hot context cue drawn per
  trial; 2.x adds noise to the stimuli only (0.0.2: all 7 channels during the stimulus).
"""

from __future__ import annotations

from dataclasses import dataclass, field

TASKS: dict[str, TaskSpec] = {}


@dataclass(frozen=True)
class TaskSpec:
    """A Neurogym task with the paper's timings (ms)."""

    name: str
    env_id: str
    timing: dict[str, int]
    env_kwargs: dict = field(default_factory=dict)

    def duration(self) -> int:
        return sum(self.timing.values())


def register_task(spec: TaskSpec) -> TaskSpec:
    if spec.name in TASKS:
        raise ValueError(f"task {spec.name!r} registered twice")
    TASKS[spec.name] = spec
    return spec


register_task(TaskSpec("2af", "PerceptualDecisionMaking-v0",
                       {"fixation": 0, "stimulus": 700, "delay": 0, "decision": 100}))
register_task(TaskSpec("dms", "DelayMatchSample-v0",
                       {"fixation": 0, "sample": 100, "delay": 500, "test": 100, "decision": 100}))
register_task(TaskSpec("cxt", "ContextDecisionMaking-v0",
                       {"fixation": 0, "stimulus": 200, "delay": 500, "decision": 100},
                       {"use_expl_context": True}))
