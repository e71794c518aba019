"""Comparing two benchmark results: speed against noise, outcomes exactly.

Speed is judged on ``cpu_over_baseline``, each config's CPU time over its
own run's baseline, so that a machine that is slower or busier today (or a
different machine) does not look like a slower simulator. Outcome metrics are judged
on any difference at all: for the same config, seed and code the summary is
the same to the last digit, so a change is a change in behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lob.benchsuite.measure import OUTCOME_METRICS
from lob.benchsuite.results import SuiteResult

#: A config (or the suite's total) is a speed regression when its CPU time over the baseline grew by more
#: than this fraction. On the 2-vCPU VM of benchmarks/README.md, five quick suites of best of 3 moved a
#: config's figure by up to 16% (the total by 9%), 5% with a CPU hog on the other core; a single run moved
#: by up to 2x in a slow spell of the host, which is why a config past the threshold is run again before
#: it is judged. 25% is above that noise and below the slowdowns worth catching (a hot path made
#: quadratic, a cache lost: 1.5x and more).
SPEED_THRESHOLD = 0.25


@dataclass(frozen=True)
class SpeedChange:
    """A config's (or ``"total"``'s) CPU time over the baseline, before and after.

    ``change`` is after / before - 1: +0.3 is 30% slower.
    """

    config: str
    old: float
    new: float

    @property
    def change(self) -> float:
        return self.new / self.old - 1.0


@dataclass(frozen=True)
class OutcomeChange:
    """An outcome metric of a config that differs; ``config_changed`` if the resolved config differs too."""

    config: str
    metric: str
    old: float | int | None
    new: float | int | None
    config_changed: bool


@dataclass
class Comparison:
    """What :func:`compare_results` found; ``regressions`` and ``outcome_changes`` are what fail a run."""

    threshold: float
    speed: list[SpeedChange] = field(default_factory=list)
    outcome_changes: list[OutcomeChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[SpeedChange]:
        """The speed changes beyond the threshold (slower), the total included."""
        return [s for s in self.speed if s.change > self.threshold]

    @property
    def failed(self) -> bool:
        return bool(self.regressions or self.outcome_changes)


def compare_results(old: SuiteResult, new: SuiteResult, threshold: float = SPEED_THRESHOLD) -> Comparison:
    """Compares ``new`` with ``old``, config by config (matched by name), and their totals.

    Only configs run (not skipped) in both are compared; the others, and
    differences of machine or of the baseline's own software, become notes.
    The total is the sum of ``cpu_over_baseline`` over the configs compared.
    """
    out = Comparison(threshold)
    before = {r.config: r for r in old.rows}
    after = {r.config: r for r in new.rows}
    only_old = [name for name in before if name not in after]
    only_new = [name for name in after if name not in before]
    if only_old:
        out.notes.append(f"not in this run: {', '.join(only_old)}")
    if only_new:
        out.notes.append(f"not in the earlier result: {', '.join(only_new)}")
    total_old = total_new = 0.0
    for name, a in after.items():
        b = before.get(name)
        if b is None:
            continue
        if a.status != "ok" or b.status != "ok":
            where = "this run" if a.status != "ok" else "the earlier result"
            out.notes.append(f"{name}: not compared, skipped in {where}")
            continue
        changed_config = a.config_sha256 != b.config_sha256
        for metric in OUTCOME_METRICS:
            was, now = getattr(b, metric), getattr(a, metric)
            if was != now:
                out.outcome_changes.append(OutcomeChange(name, metric, was, now, changed_config))
        if changed_config:
            out.notes.append(f"{name}: the resolved config differs (config file, seed or suite duration)")
        was, now = b.cpu_over_baseline, a.cpu_over_baseline
        if was is not None and now is not None and was > 0:
            out.speed.append(SpeedChange(name, was, now))
            total_old += was
            total_new += now
    if total_old > 0:
        out.speed.append(SpeedChange("total", total_old, total_new))
    if min(old.repeat, new.repeat) < 3:
        out.notes.append("speed from fewer than 3 runs a config (--repeat): expect more noise")
    for key in ("python", "simpy", "cpu"):
        was, now = old.machine.get(key), new.machine.get(key)
        if was != now:
            out.notes.append(f"{key} differs ({was} -> {now}): the baseline is not the same ruler")
    return out
