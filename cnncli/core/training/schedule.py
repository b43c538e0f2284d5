"""Learning-rate schedules as pure functions of the optimizer step.

A schedule's whole state is the step it is at, so a checkpoint needs nothing more to resume it exactly
(the training state stores the step). All schedules are multipliers of the peak learning rate.
"""

from __future__ import annotations

import math

SCHEDULES = ("onecycle", "cosine", "step", "constant")

# onecycle: start at peak/START_DIV, rise linearly to the peak over the warm-up, then fall linearly to
# peak/END_DIV at the last step. Falling to (almost) zero at the end is worth most of the accuracy of
# a short run.
ONECYCLE_START_DIV = 10.0
ONECYCLE_END_DIV = 1000.0
STEP_MILESTONES = (0.5, 0.75)  # step: x0.1 at half the run, x0.01 at three quarters
STEP_GAMMA = 0.1


def lr_multiplier(schedule: str, step: int, total_steps: int, warmup: float) -> float:
    """The factor of the peak learning rate at `step` (0-based) of `total_steps`."""
    if total_steps <= 0:
        raise ValueError("total_steps must be positive")
    progress = min(step, total_steps) / total_steps
    if schedule == "constant":
        return 1.0
    if schedule == "step":
        return STEP_GAMMA ** sum(progress >= m for m in STEP_MILESTONES)
    warm = max(warmup, 0.0)
    if progress < warm:
        start = 1.0 / ONECYCLE_START_DIV if schedule == "onecycle" else 0.0
        return start + (1.0 - start) * progress / warm
    rest = (progress - warm) / (1.0 - warm) if warm < 1.0 else 1.0
    if schedule == "onecycle":
        end = 1.0 / ONECYCLE_END_DIV
        return 1.0 + (end - 1.0) * rest
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * rest))
    raise ValueError(f"unknown schedule {schedule!r}")
