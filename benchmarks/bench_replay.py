"""Replay a real labelled file through the real loop, prequentially, against the published baselines.

    .venv/bin/python -m benchmarks.bench_replay FILE --target COL [--time-column C] [--initial 2000] [--batch 200]
                                                 [--policies challenge,drift,always,never] [--label-delay N] [--json out.json]
    .venv/bin/python -m benchmarks.bench_replay --synthetic [--rows 45000]   (a generated mixed table with drifts)
    .venv/bin/python -m benchmarks.bench_replay --river sea|agrawal|hyperplane|hyperplane-switch|shuttle [--rows 40000]   (River's concept-drift streams)

Each policy gets a fresh workspace built from the file the way a user builds one (`core.workspaces.create`
with `initial_rows`: v1.0.0 trained on the first rows, the rest stored and replayed as the stream), then its
cycles run back to back until the replay ends. A cycle scores its batch with the champion in service before
anything can learn from it, so the mean of the cycles' realised accuracies (weighted by rows) is the served
accuracy. In the same process, on the same rows and batches, the baselines: a model trained once on the
initial rows; our pipeline retrained after every batch, and every 5 batches, on the newest 1,000 / 2,000 /
5,000 rows (and the best window in hindsight); River's online logistic regression and adaptive random forest,
each batch's labels learnt only after the whole batch was predicted; and the last known label. With
`--label-delay N` the loop serves each batch as it arrives and receives its labels N cycles later (the baselines
still learn each batch's labels at once).

Per policy, what a user would feel besides the accuracy: the cycles run, the alerts raised for Discord (performance
drops, retrain outcomes, promotions, a failing loop), the informational ones kept apart (drift with no performance
consequence), and the label-free estimate's mean absolute error against the realised accuracy per cycle.

`--river` writes one of River's synthetic streams (`river.datasets.synth`, seeded, no download) to a CSV and replays
it: `sea` (SEA's four variants one after another, abrupt, inputs unchanged: a concept change only labels show),
`agrawal` (four of Agrawal's classification functions one after another), `hyperplane-switch` (four seeded
hyperplanes one after another through `ConceptDriftStream`) and `hyperplane` (one hyperplane turning a little every
row: gradual drift, the hardest case for any policy that learns in batches); `shuttle` is a real stream River ships
(UCI Statlog Shuttle, sensor readings, 7 % anomalies), all 49,097 rows.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import Settings
from core.data.synthetic_table import generate_table
from core.domain.deliveries import INFO_DELIVERY
from core.domain.schema import Schema
from core.ml import training
from core.workspaces import TableChoice, create, preview, workspace_settings

WINDOWS = (1000, 2000, 5000)
EVERY = 5
DEFAULT_POLICIES = ("challenge", "drift", "always", "never")


@dataclass
class Result:
    name: str
    kind: str  # "policy" or "baseline"
    default: bool
    served_accuracy: float
    retrains: int
    seconds: float
    rows: int
    cycles: int | None = None
    alerts: int | None = None  # for Discord: drops, retrain outcomes, promotions, rollbacks, a failing loop
    info_alerts: int | None = None  # stored and shown, not sent: drift with no performance consequence
    estimate_mae: float | None = None  # label-free estimate vs realised accuracy, mean absolute error per cycle

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else float("nan")


@dataclass(frozen=True)
class Stream:
    """The file as every contender sees it: features by name, labels as class indices, batch bounds."""

    raw: bytes
    filename: str
    schema: Schema
    X: pd.DataFrame
    y: np.ndarray
    initial: int
    batch: int

    @property
    def bounds(self) -> list[tuple[int, int]]:
        return [(start, min(start + self.batch, len(self.y))) for start in range(self.initial, len(self.y), self.batch)]

    @property
    def replayed_rows(self) -> int:
        return len(self.y) - self.initial


def load(path: Path, target: str, time_column: str | None, initial: int, batch: int) -> Stream:
    """The file read, typed and ordered exactly as `core.workspaces` reads it for the loop's workspace."""
    raw = path.read_bytes()
    found, encoded = preview(raw, path.name, TableChoice(target, time_column=time_column))
    if not 50 <= initial < found.n_rows - batch:
        raise SystemExit(f"--initial must leave at least one batch: the file has {found.n_rows:,} rows")
    return Stream(raw, path.name, found.schema, encoded.X, encoded.y, initial, batch)


# our loop, under one policy ------------------------------------------------------------------------------
def run_policy(
    stream: Stream, policy: str, target: str, time_column: str | None, default: bool, root: Path, label_delay: int = 0
) -> Result:
    """`root` holds every policy's workspace, so the migrated MLflow store a workspace starts from is made once. With a
    `label_delay`, each batch is served as it arrives and its labels come that many cycles later (the loop's own label
    delay): the cycles run on after the replay until every label came, and each label counts for the version that
    served its row; the estimate of a batch is compared with the realised accuracy of its labels when they come."""
    from core.runtime import Runtime

    with tempfile.TemporaryDirectory(dir=root) as folder:
        base = Settings.from_env(
            None, data_dir=Path(folder) / "base", workspaces_dir=root / "workspaces", log_level="ERROR", api_enabled=False,
            scheduler_autostart=False,
        )  # fmt: skip
        choice = TableChoice(target, {}, time_column, None, stream.initial)
        created = create(base, f"replay-{policy}-{Path(folder).name}", stream.raw, stream.filename, choice)
        settings = replace(workspace_settings(base, created.folder), policy=policy, stream_enabled=True, stream_batch_size=stream.batch,
                           label_delay_cycles=label_delay)  # fmt: skip
        rt = Runtime(settings)
        correct = rows = retrains = cycles = 0
        errors: list[float] = []
        estimates: dict[int, float | None] = {}
        start = time.perf_counter()
        try:
            while True:
                record = rt.loop.run_cycle("replay")
                if record.status == "no_data" and not rt.store.due_labels(2**62)[0]:
                    break
                if record.status == "error":
                    raise RuntimeError(f"cycle {record.cycle_id} failed: {record.reason}")
                cycles += record.status != "no_data"
                got, right = labels_scored(record)
                correct, rows = correct + right, rows + got
                retrains += record.new_version is not None
                estimates[record.cycle_id] = record.estimated_accuracy
                estimated = estimates.get(record.cycle_id - label_delay)  # the estimate of the batch these labels are of
                if got and estimated is not None:
                    errors.append(abs(estimated - right / got))
            alerts, info = alert_counts(rt.store)
        finally:
            rt.close()
        seconds = time.perf_counter() - start
    if rows != stream.replayed_rows:
        raise RuntimeError(f"policy {policy} scored {rows:,} rows of {stream.replayed_rows:,}")
    mae = float(np.mean(errors)) if errors else None
    return Result(f"ours: {policy}", "policy", default, correct / rows, retrains, seconds, rows, cycles, alerts, info, mae)


def labels_scored(record: object) -> tuple[int, int]:
    """The labels a cycle received and how many its rows' versions got right: the champion's (its realised accuracy)
    and every other version's (`realised_versions`), each counted for the version that served the row."""
    rows = (record.realised_rows or 0) if record.realised_accuracy is not None else 0
    got, right = rows, round((record.realised_accuracy or 0.0) * rows)
    for other in json.loads(record.realised_versions or "[]"):
        got, right = got + other["labels"], right + other["correct"]
    return got, right


def alert_counts(store: object) -> tuple[int, int]:
    """Alerts meant for Discord (whether or not a webhook is set) and informational ones, as the store keeps them."""
    kept = store.notifications(limit=1_000_000)
    info = int((kept["delivery"] == INFO_DELIVERY).sum())
    return int((~kept["delivery"].isin([INFO_DELIVERY, "collapsed"])).sum()), info


# baselines, in the same process ----------------------------------------------------------------------
def prequential(stream: Stream, name: str, predict_batch: Callable[[int, int], np.ndarray], retrains: Callable[[], int]) -> Result:
    """Each batch predicted before its labels are known; `predict_batch` learns what it may from the rows before it."""
    start, correct = time.perf_counter(), 0
    for lo, hi in stream.bounds:
        correct += int(np.count_nonzero(predict_batch(lo, hi) == stream.y[lo:hi]))
    return Result(name, "baseline", False, correct / stream.replayed_rows, retrains(), time.perf_counter() - start, stream.replayed_rows)


def fitted(stream: Stream, lo: int, hi: int) -> object:
    model = training.build_pipeline(training.DEFAULT_OPTIONS, stream.schema)
    X, y = stream.X.iloc[lo:hi], stream.y[lo:hi]
    if len(np.unique(y)) < 2:
        return None
    return model.fit(X, y)


def windowed(stream: Stream, window: int | None, every: int | None) -> Result:
    """Our pipeline on the newest `window` rows, retrained every `every` batches (None: trained once)."""
    state: dict[str, object] = {"model": fitted(stream, 0, stream.initial), "count": 0, "fits": 0}

    def predict(lo: int, hi: int) -> np.ndarray:
        if every is not None and state["count"] and state["count"] % every == 0:
            model = fitted(stream, max(0, lo - window), lo)
            if model is not None:
                state["model"], state["fits"] = model, state["fits"] + 1
        state["count"] += 1
        return training.predicted_class(state["model"].predict_proba(stream.X.iloc[lo:hi]))

    if every is None:
        name = "trained once on the initial rows"
    else:
        name = f"retrained {'after every batch' if every == 1 else f'every {every} batches'} on the newest {window:,}"
    return prequential(stream, name, predict, lambda: int(state["fits"]))


def river_rows(stream: Stream) -> list[dict[str, object]]:
    """The rows as River takes them: numbers as floats (a missing one left out), categories as text (a missing one as
    its own category, as our pipeline does)."""
    rows = []
    columns = [(c.name, c.kind == "numeric") for c in stream.schema.features]
    for values in stream.X.itertuples(index=False, name=None):
        row = {}
        for (name, numeric), value in zip(columns, values, strict=True):
            missing = value is None or (isinstance(value, float) and np.isnan(value))
            if numeric and not missing:
                row[name] = float(value)
            elif not numeric:
                row[name] = "(missing)" if missing else str(value)
        rows.append(row)
    return rows


def river_model(kind: str, stream: Stream) -> object:
    from river import compose, forest, linear_model, multiclass, preprocessing

    if kind == "arf":
        return forest.ARFClassifier(seed=42)
    numeric = [c.name for c in stream.schema.features if c.kind == "numeric"]
    categorical = [c.name for c in stream.schema.features if c.kind == "categorical"]
    numbers = compose.FuncTransformer(lambda x: {k: x[k] for k in numeric if k in x})  # Select fails on an absent key
    features = numbers | preprocessing.StandardScaler()
    if categorical:
        features = features + (compose.Select(*categorical) | preprocessing.OneHotEncoder())
    classifier = linear_model.LogisticRegression()
    if len(stream.schema.classes) > 2:
        classifier = multiclass.OneVsRestClassifier(classifier)
    return features | classifier


def river(stream: Stream, kind: str) -> Result:
    """River's online learner: the initial rows learnt one by one, then each batch predicted, then learnt."""
    rows, model = river_rows(stream), river_model(kind, stream)
    for row, label in zip(rows[: stream.initial], stream.y[: stream.initial], strict=True):
        model.learn_one(row, int(label))

    def predict(lo: int, hi: int) -> np.ndarray:
        guesses = [model.predict_one(row) for row in rows[lo:hi]]
        for row, label in zip(rows[lo:hi], stream.y[lo:hi], strict=True):
            model.learn_one(row, int(label))
        return np.array([-1 if g is None else int(g) for g in guesses])

    name = "River adaptive random forest" if kind == "arf" else "River online logistic regression"
    return prequential(stream, name, predict, lambda: 0)


def last_label(stream: Stream) -> Result:
    return prequential(stream, "the last known label", lambda lo, hi: np.full(hi - lo, stream.y[lo - 1]), lambda: 0)


def baselines(stream: Stream) -> list[Result]:
    results = [windowed(stream, None, None)]
    for every in (1, EVERY):
        batch = [windowed(stream, w, every) for w in WINDOWS]
        best = max(batch, key=lambda r: r.served_accuracy)
        results += [*batch, replace(best, name=f"{best.name} (best window in hindsight, every {every})")]
    return [*results, river(stream, "lr"), river(stream, "arf"), last_label(stream)]


# the synthetic stream ---------------------------------------------------------------------------------
SYNTHETIC = (("stable", 0.0), ("category_shift", 1.0), ("concept_drift", 1.0))


def synthetic_file(folder: Path, rows: int, seed: int = 7) -> Path:
    """A mixed table (numbers, categories, missing values) whose thirds are stable, then a category shift, then
    a concept drift: `core.data.synthetic_table`'s scenarios one after another."""
    part = rows // len(SYNTHETIC)
    frame = pd.concat([generate_table(part, name, strength, seed + i) for i, (name, strength) in enumerate(SYNTHETIC)], ignore_index=True)
    path = folder / "synthetic-stream.csv"
    frame.to_csv(path, index=False)
    return path


RIVER_STREAMS = ("sea", "agrawal", "hyperplane", "hyperplane-switch", "shuttle")


def river_file(folder: Path, name: str, rows: int, seed: int = 7) -> Path:
    """One of River's concept-drift streams, seeded, as a CSV with a `target` column: four regimes of equal length
    joined by abrupt switches (over about 100 rows; `sea`, `agrawal`, `hyperplane-switch`: four still hyperplanes
    joined through `ConceptDriftStream`, as the issue's target names it), or one hyperplane turning all along
    (`hyperplane`). Or a real one that River ships (no download): `shuttle`, NASA shuttle sensor readings (UCI Statlog
    Shuttle as ODDS casts it: 49,097 rows, 7 % anomalies; `rows` does not apply)."""
    from river.datasets import Shuttle, synth

    if name == "shuttle":
        stream = Shuttle()
        rows = stream.n_samples
    elif name == "hyperplane":
        stream = synth.Hyperplane(seed=seed, n_features=10, n_drift_features=4, mag_change=0.001, noise_percentage=0.05, sigma=0.1)
    else:
        regimes = _regimes(synth, name, seed)
        part = rows // len(regimes)
        stream = regimes[-1]
        for i in range(len(regimes) - 2, -1, -1):  # nested: regime i, then (from `part` rows later) what follows it
            stream = synth.ConceptDriftStream(regimes[i], stream, position=part, width=100, seed=seed)  # a switch over ~100 rows
    frame = pd.DataFrame(
        [{(f"x{k}" if isinstance(k, int) else k): v for k, v in x.items()} | {"target": int(y)} for x, y in stream.take(rows)]
    )
    path = folder / f"river-{name}.csv"
    frame.to_csv(path, index=False)
    return path


def _regimes(synth, name: str, seed: int) -> list:
    """The four still concepts a switching stream goes through, in order."""
    if name == "sea":
        return [synth.SEA(variant=v, noise=0.1, seed=seed + v) for v in range(4)]
    if name == "agrawal":
        return [synth.Agrawal(classification_function=f, seed=seed + f, balance_classes=False, perturbation=0.05) for f in (0, 2, 4, 6)]
    return [synth.Hyperplane(seed=seed + k, n_features=10, n_drift_features=0, noise_percentage=0.05) for k in range(4)]


def report(results: list[Result], stream: Stream) -> str:
    lines = [
        f"{stream.filename}: {len(stream.y):,} rows, {stream.initial:,} initial, then {len(stream.bounds)} batches of {stream.batch}",
        "| contender | served accuracy | retrains | cycles | alerts | info alerts | estimate MAE | seconds | rows/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        name = f"**{r.name} (default)**" if r.default else r.name
        extra = [_cell(r.cycles), _cell(r.alerts), _cell(r.info_alerts), "—" if r.estimate_mae is None else f"{r.estimate_mae:.3f}"]
        lines.append(
            f"| {name} | {r.served_accuracy:.3f} | {r.retrains} | {' | '.join(extra)} | {r.seconds:.1f} | {r.rows_per_second:,.0f} |"
        )
    return "\n".join(lines)


def _cell(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(prog="bench_replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, nargs="?")
    parser.add_argument("--target")
    parser.add_argument("--time-column")
    parser.add_argument("--initial", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--policies", default=",".join(DEFAULT_POLICIES))
    parser.add_argument("--synthetic", action="store_true", help="replay a generated mixed table with drifts instead of FILE")
    parser.add_argument(
        "--river",
        choices=RIVER_STREAMS,
        help="replay one of River's streams (synthetic concept drifts, or the real shuttle) instead of FILE",
    )
    parser.add_argument("--rows", type=int, help="rows of the synthetic stream (45,000) or River's (40,000)")
    parser.add_argument("--label-delay", type=int, default=0, help="cycles each batch's labels come after it is served (0: with it)")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    with tempfile.TemporaryDirectory() as folder:
        if args.synthetic:
            path, target = synthetic_file(Path(folder), args.rows or 45_000), "outcome"
        elif args.river:
            path, target = river_file(Path(folder), args.river, args.rows or 40_000), "target"
        else:
            path, target = args.file, args.target
        if path is None or not target:
            parser.error("FILE and --target, --synthetic or --river")
        stream = load(path, target, args.time_column, args.initial, args.batch)
    default_policy = Settings.from_env({}).policy
    with tempfile.TemporaryDirectory() as root:
        policies = [p for p in args.policies.split(",") if p]
        results = [run_policy(stream, p, target, args.time_column, p == default_policy, Path(root), args.label_delay) for p in policies]
    if not args.no_baselines:
        results += baselines(stream)
    print(report(results, stream))
    if args.json:
        fields = ("name", "kind", "default", "served_accuracy", "retrains", "seconds", "cycles", "alerts", "info_alerts", "estimate_mae")
        args.json.write_text(json.dumps([{k: v for k, v in asdict(r).items() if k in fields} for r in results], indent=2))
    return results


if __name__ == "__main__":
    main()
