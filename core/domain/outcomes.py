"""The loop's outcomes as typed values: what a gate decided, what a cycle decided, and a cycle's record.

One module that the gate, the policy, the pipeline, the verdicts, the API and the pages share, so a
status is a field compared with a name from here, never a phrase looked for in a reason meant for
people. Pure: it imports nothing from the rest of `core`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal, Protocol, get_args

from core.errors import NotFoundError, UserInputError

GateOutcome = Literal["promoted", "rejected", "awaiting", "candidate", "first", "rollback", "by_hand", "approval"]
Action = Literal["retrain", "challenge", "none", "wait", "cooldown", "error"]
CycleStatus = Literal["ok", "no_data", "error"]
Trigger = Literal["cycle", "follow-up", "periodic", "challenge", "drop"]
RetrainStatus = Literal["promoted", "rejected", "awaiting_approval", "candidate", "unchanged"]

ACTIONS: tuple[str, ...] = get_args(Action)
METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")  # a version's holdout metrics, in table order
PROMOTING: frozenset[str] = frozenset({"promoted", "first", "rollback", "by_hand", "approval"})
# A person's change of champion, by its event kind: an older former champion put back is a rollback, any other
# version put in service is a promotion by hand, a waiting challenger let through is an approval.
_MANUAL_TITLES = {"rollback": "Rollback to", "by_hand": "Promoted by hand:", "approval": "Approved:", "rejection": "Rejected by hand:"}
# What a person does to models, as the model events store it: the trainings a person asks for (the dashboard's Train
# now, the API's POST /retrain; their versions' `trigger`) with what their gate decided, and the champion changes and
# rejections made by hand. The Overview's last event is the newest of these or of the loop's cycles.
MANUAL_TRIGGERS: dict[str, str] = {"manual": "Train now", "api": "POST /retrain"}  # a version's trigger -> who asked
GATE_EVENT_KINDS = ("gate", "awaiting", "candidate")  # a gate's decision on a freshly trained version
BY_HAND_EVENT_KINDS = ("rollback", "by_hand", "approval", "rejection")
# A version's status as a person reads it, the one wording of every door (the Models page, GET /models'
# `status_label`). The stored value (`status`) stays the machine's word: a replaced champion is stored "archived".
STATUS_LABELS = {"champion": "champion", "challenger": "challenger", "archived": "former champion", "candidate": "candidate",
                 "rejected": "rejected", "superseded": "superseded"}  # fmt: skip


def status_label(status: str, superseded: bool = False) -> str:
    """A version's stored status in the words people read ("archived" is a former champion; a challenger replaced by a
    fresher one while awaiting approval is stored "rejected" but passed the gate: "superseded")."""
    return STATUS_LABELS["superseded"] if superseded and status == "rejected" else STATUS_LABELS.get(status, status)


def manual_title(kind: str, version: int | None) -> str:
    """The title of a person's change of champion (an alert's, the Overview's last event)."""
    return f"{_MANUAL_TITLES[kind]} {version_label(version)}"


def manual_kind(version: int, champion: int | None, former_champion: bool) -> str:
    """A version put in service by hand: a rollback when a former champion older than the champion is put back, else
    a promotion by hand (a candidate that never served is not rolled back to, however old).

    >>> manual_kind(1, 3, former_champion=True), manual_kind(2, 3, former_champion=False), manual_kind(3, 1, True)
    ('rollback', 'by_hand', 'by_hand')
    """
    return "rollback" if former_champion and champion is not None and version < champion else "by_hand"


def retrain_status(outcome: GateOutcome | None) -> RetrainStatus:
    """What a training asked for over the API came to; None when nothing was registered (identical)."""
    if outcome is None:
        return "unchanged"
    if outcome == "awaiting":
        return "awaiting_approval"
    if outcome == "candidate":
        return "candidate"
    return "promoted" if outcome in PROMOTING else "rejected"


@dataclass(frozen=True)
class VersionLabels:
    """Labels that came back for one version's served predictions: they count for that version, never for the
    champion that happens to serve when they arrive."""

    version: int
    labels: int
    correct: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labels if self.labels else None

    def describe(self) -> str:
        return f"{version_label(self.version)} {self.correct:,} of {self.labels:,} right ({self.accuracy:.3f})"


@dataclass(frozen=True)
class Measurement:
    """The champion measured on one cycle's new data: realised accuracy where labels came (its own predictions'
    labels and the stream rows it scored; `others`: labels of other versions' predictions, counted for them),
    the label-free estimate always, and the bar a drop is measured from."""

    champion: int | None
    holdout_accuracy: float | None
    realised: float | None
    realised_upper: float | None
    estimated: float | None
    performance_drift: bool
    bar: float | None = None
    bar_source: str = ""
    n_rows: int = 0
    estimated_drop: bool = False
    others: tuple[VersionLabels, ...] = ()
    estimated_low: float | None = None  # the estimate's 95 % sampling band (core.stats.estimate.Estimate)
    estimated_high: float | None = None
    estimated_threshold: float | None = None  # below it the estimate is a drop (the reference's chunk-to-chunk variation)
    estimated_rows: int = 0  # the rows the estimate rests on: every row of the cycle, labelled or not (n_rows: the labels)
    scored: VersionLabels | None = None  # the rows that came labelled, scored by the champion as they arrived
    one_class: tuple[int | str, int] | None = None  # the one class every label of the cycle was, and how many came


@dataclass(frozen=True)
class FailingStreak:
    """The cycles that failed in a row up to the newest: when it began, how many, and the newest reason."""

    cycles: int
    first_cycle: int
    last_cycle: int
    since: datetime
    reason: str
    last_at: datetime | None = None

    def describe(self) -> str:
        runs = "the newest cycle" if self.cycles == 1 else f"{self.cycles:,} cycles in a row"
        return f"failing since {self.since:%H:%M} UTC ({runs}, from cycle {self.first_cycle}): {self.reason}"

    def ended(self) -> str:
        """The episode once over, as the recovery alert tells it ("the newest cycle" is no longer true)."""
        span = f"cycle {self.first_cycle}" if self.first_cycle == self.last_cycle else f"cycles {self.first_cycle} to {self.last_cycle}"
        failed = f"{self.cycles:,} failed cycle{'s' if self.cycles != 1 else ''}"
        return f"{failed} ({span}; failing since {self.since:%H:%M} UTC: {self.reason})"


@dataclass(frozen=True)
class LoopState:
    """The loop as every door shows it (the Overview, /health, /metrics, the last event): the worker's state, and
    whether its cycles fail, since when and why. A failing loop is failing whatever the worker's state."""

    worker: str  # running | paused | stopped
    failing: FailingStreak | None = None
    unstored: int = 0  # cycles kept in memory because the store refuses writes

    @property
    def ok(self) -> bool:
        return self.failing is None and not self.unstored

    @property
    def headline(self) -> str:
        """The worker's state, and failing when its newest cycles failed: "failing" alone hid a loop left paused. A
        stopped worker reads "failing" alone: with IA_SCHEDULER_AUTOSTART off, cycles come from POST /cycles.

        >>> LoopState("paused").headline, LoopState("running", unstored=2).headline, LoopState("paused", unstored=2).headline
        ('paused', 'failing', 'paused, failing')
        """
        if self.ok:
            return self.worker
        return "paused, failing" if self.worker == "paused" else "failing"

    def describe(self) -> str:
        """In words, for a tile, a health check and an alert. A loop that is not running cannot show it was mended
        until a cycle runs: say how to run one.

        >>> LoopState("paused", unstored=2).describe().split("; ")[1]
        'the loop is paused: a cycle run now (Operations, or POST /cycles) shows whether it is mended'
        """
        parts = [self.failing.describe()] if self.failing is not None else []
        if self.unstored:
            parts.append(f"{self.unstored:,} cycles could not be stored: the store refuses writes (kept in memory until it accepts them)")
        if parts and self.worker != "running":
            parts.append(f"the loop is {self.worker}: a cycle run now (Operations, or POST /cycles) shows whether it is mended")
        return "; ".join(parts) or f"{self.worker}, not failing"

    def first_cycle(self) -> str:
        """What brings the first cycle, by the worker's state: "shortly after start" was said of a worker left stopped.

        >>> LoopState("stopped").first_cycle()
        'the loop is stopped: start it on the Operations page, run a cycle now there, or send POST /cycles'
        >>> LoopState("paused").first_cycle().split(":")[0], LoopState("running").first_cycle().split(" (")[0]
        ('the loop is paused', 'the loop runs its first cycle shortly')
        """
        if self.worker == "running":
            return "the loop runs its first cycle shortly (or run one now on the Operations page)"
        return f"the loop is {self.worker}: start it on the Operations page, run a cycle now there, or send POST /cycles"


@dataclass(frozen=True)
class Decision:
    """What the policy decided for a cycle, and why (in words for people: never parsed)."""

    action: Action
    reason: str
    onset_sample_id: int | None = None  # first row of the drift episode a retrain should learn from
    draw: float | None = None  # the `random` policy's draw, stored so a run can be replayed
    trigger: Trigger = "cycle"
    episode_onset: int | None = None  # first row of the run of drifted cycles this one belongs to (alerts collapse by it)


class Arrival(Protocol):
    n_rows: int
    n_labelled: int
    served_rows: int
    coverage: float | None

    def delay_seconds(self, quantile: float) -> float | None: ...


@dataclass
class CycleRecord:
    """One monitoring cycle as the `cycles` table stores it; the store maps it to its row by field name."""

    cycle_id: int | None
    started_at: datetime
    trigger: str = "schedule"
    policy: str = ""
    status: CycleStatus = "ok"
    rows_seen: int = 0
    labelled: bool = False
    decision: Action = "none"
    reason: str = ""
    ended_at: datetime | None = None
    step_ms: str | None = None
    first_sample_id: int | None = None
    last_sample_id: int | None = None
    predictions_until: datetime | None = None
    scenario: str | None = None
    strength: float | None = None
    champion_version: int | None = None
    champion_holdout_accuracy: float | None = None
    realised_accuracy: float | None = None
    realised_upper: float | None = None
    estimated_accuracy: float | None = None
    estimated_low: float | None = None  # the estimate's 95 % sampling band: where the realised accuracy should fall
    estimated_high: float | None = None
    estimated_threshold: float | None = None  # below it the estimate is a drop: the bar of a cycle without labels
    drift_share: float | None = None
    dataset_drift: bool | None = None
    performance_drift: bool | None = None
    draw: float | None = None
    new_version: int | None = None
    promoted: bool | None = None
    error: str | None = None
    verdict: str | None = None
    signals: str | None = None
    performance_bar: float | None = None
    reference: str | None = None  # core.services.reference.Reference as JSON: the rows the drift test used
    gate_outcome: GateOutcome | None = None  # what the gate decided for `new_version`
    served_rows: int | None = None  # predictions logged and stream rows scored since the last cycle
    labelled_rows: int | None = None  # labels that arrived since the last cycle: what the realised accuracy rests on
    label_coverage: float | None = None  # labelled_rows / served_rows
    label_delay_p50_s: float | None = None  # how late the labels of served predictions came (None: none came)
    label_delay_p90_s: float | None = None
    realised_rows: int | None = None  # labels the champion's realised accuracy rests on: its own predictions' and stream rows
    realised_versions: str | None = None  # JSON: labels of other versions' predictions, per version (they count for those)
    scored_rows: int | None = None  # rows that came labelled (stream, data sent to the loop), scored by the champion on arrival
    scored_correct: int | None = None  # how many of them it got right: with `feedback`, every label a version's rows received

    def row(self) -> dict:
        """The table row: every stored field by its column name."""
        return asdict(self)

    def arrived(self, new: Arrival) -> None:
        """What the cycle reads (core.data.new_rows.NewData): its rows, labels, coverage and label delay."""
        self.rows_seen, self.labelled = new.n_inputs, new.n_labelled > 0
        self.served_rows, self.labelled_rows, self.label_coverage = new.served_rows, new.n_labelled, new.coverage
        self.label_delay_p50_s, self.label_delay_p90_s = new.delay_seconds(0.5), new.delay_seconds(0.9)

    def measured(self, m: Measurement) -> None:
        self.champion_version = m.champion
        self.champion_holdout_accuracy = m.holdout_accuracy
        self.realised_accuracy = m.realised
        self.realised_upper = m.realised_upper
        self.estimated_accuracy = m.estimated
        self.estimated_low, self.estimated_high, self.estimated_threshold = m.estimated_low, m.estimated_high, m.estimated_threshold
        self.performance_drift = m.performance_drift
        self.performance_bar = m.bar
        self.realised_rows = m.n_rows if m.realised is not None else None
        if m.scored is not None:
            self.scored_rows, self.scored_correct = m.scored.labels, m.scored.correct
        if m.others:
            self.realised_versions = json.dumps([asdict(o) for o in m.others])


def version_label(version: int | None) -> str:
    """The label users see: registry version 1 is v1.0.0, version 2 is v1.1.0, and so on."""
    return "—" if version is None else f"v1.{int(version) - 1}.0"


_LABEL = re.compile(r"v1\.(\d{1,8})\.0")


def no_such_version(version: int) -> NotFoundError:
    """One refusal for a version never registered, on every door (a 404 through the API): its label and its registry
    number, whichever the caller wrote."""
    return NotFoundError(
        "version",
        f"no version {version_label(version)} is registered, under that label or its registry number "
        f"{version}: GET /models lists the versions",
    )  # tour 21: "(registry number 10 …)" read as existing


def parse_version(text: str) -> int:
    """A version as users write it: the label (v1.2.0) or the registry number (3)."""
    found = _LABEL.fullmatch(text.strip())
    if found:
        return int(found.group(1)) + 1
    if text.strip().isdigit() and 0 < int(text) < 10**9:  # the API's VERSION_PATTERN states the same bounds
        return int(text)
    raise UserInputError("version", f"{text[:40]!r} is not a version: write it as v1.2.0 or as its registry number")
