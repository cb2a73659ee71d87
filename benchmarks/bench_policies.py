"""Replay benchmark: one scripted stream through every scenario, replayed under each retrain policy.

160 cycles of 200 rows: stable, covariate shift, concept drift, gradual drift, label noise,
and back to stable. Prequential: each batch is scored by the model in service before
it can be used for training (the cycle's realised accuracy). Every policy runs on a
fresh workspace through the real loop (DuckDB, MLflow, the gate):

- ours: `challenge` (the default: a challenger every labelled cycle, promoted when McNemar trusts it) and
  `drift` (retrain on a credible drop or persistent feature drift), then `always`, `never` and `random` (the
  original product's coin flip): the loop's own policies;
- `periodic`: a retrain every 10 cycles; `adwin`: river's ADWIN on the champion's
  per-row errors, retraining on the rows since the change it finds; `oracle`: a retrain
  on the new regime's rows the cycle each change starts (gradual drift changes every
  cycle for its first 10). These three drive `ModelActions.train` from outside with the loop
  monitoring only; their trainings are gated like the loop's. The baselines run with no
  cooldown (each follows its own rule alone); ours with its defaults.

Per policy, as means over 5 seeds with their range: mean served accuracy, the worst
5-cycle window, retrains, retrains with no change point since the previous one,
detection delay (cycles from a change to the first retrain), retrains on the stable
stretches, and the regret against the oracle; for the loop's policies, what a user would feel besides
(as `bench_replay` counts them): cycles, alerts for Discord, informational alerts, and the label-free
estimate's mean absolute error against the realised accuracy. Writes docs/policies.png.

Run: .venv/bin/python -m benchmarks.bench_policies [--seeds 5]   (about 25 minutes on a busy machine)
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.bench_replay import alert_counts
from core.config import Settings
from core.data.synthetic_stream import GRADUAL_STEPS
from core.domain.outcomes import CycleRecord
from core.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = Settings.from_env({}).policy
OURS = ("challenge", "drift")  # run with their defaults (cooldown included)
SCRIPT = [("stable", 1.0, 30), ("covariate_shift", 1.0, 25), ("concept_drift", 1.0, 30), ("gradual", 1.0, 25), ("label_noise", 1.0, 25), ("stable", 1.0, 25)]  # fmt: skip
CHANGES = [int(c) for c in np.cumsum([n for _s, _k, n in SCRIPT])[:-1]]  # first cycle (0-based) of each new regime
GRADUAL_START = CHANGES[2]
# Gradual drift rotates the boundary a little more each cycle for GRADUAL_STEPS cycles: each is a change.
EVERY_CHANGE = sorted(set(CHANGES) | set(range(GRADUAL_START, GRADUAL_START + GRADUAL_STEPS)))
STABLE_STRETCHES = [range(0, 30), range(140, 160)]
LOOP_POLICIES = ("challenge", "drift", "always", "never", "random")
POLICIES = (*LOOP_POLICIES, "periodic", "adwin", "oracle")


@dataclass
class Run:
    accuracy: list[float] = field(default_factory=list)
    retrain_cycles: list[int] = field(default_factory=list)
    alerts: int = 0
    info_alerts: int = 0
    estimate_errors: list[float] = field(default_factory=list)


def scenario_at(cycle: int) -> tuple[str, float] | None:
    """The scenario to switch to before 0-based `cycle`, if one starts there."""
    start = 0
    for name, strength, n in SCRIPT:
        if cycle == start:
            return name, strength
        start += n
    return None


def replay(policy: str, seed: int, folder: Path) -> Run:
    loop_policy = policy if policy in LOOP_POLICIES else "never"
    cooldown = {"retrain_cooldown_cycles": 0} if policy not in OURS else {}  # the baselines follow their own rule alone
    settings = Settings.from_env(
        {},
        data_dir=folder / f"{policy}-{seed}",
        seed=seed,
        policy=loop_policy,
        scheduler_autostart=False,
        log_level="ERROR",
        api_enabled=False,
        **cooldown,
    )
    rt = Runtime(settings)
    outside = _outside_policy(policy, rt)
    run = Run()
    try:
        for cycle in range(sum(n for _s, _k, n in SCRIPT)):
            switch = scenario_at(cycle)
            if switch:
                rt.loop.set_stream_scenario(*switch)
            record = rt.loop.run_cycle("schedule")
            run.accuracy.append(record.realised_accuracy)
            if record.new_version is not None and outside is None:  # a retrain, or a challenger promoted
                run.retrain_cycles.append(cycle)
            if outside is not None and outside(cycle, record):
                run.retrain_cycles.append(cycle)
            if record.realised_accuracy is not None and record.estimated_accuracy is not None:
                run.estimate_errors.append(abs(record.estimated_accuracy - record.realised_accuracy))
        run.alerts, run.info_alerts = alert_counts(rt.store)
    finally:
        rt.close()
    return run


def _outside_policy(policy: str, rt: Runtime) -> Callable[[int, CycleRecord], bool] | None:
    """Retrain rules driven from outside the loop; each returns True when it trained a version."""

    def train(rows: int) -> bool:
        try:
            return rt.models.train(trigger=policy, window_rows=max(rows, rt.settings.min_retrain_rows)).equal_to is None
        except Exception as exc:  # a one-class window, say: counted as no retrain
            logging.getLogger(__name__).warning("%s retrain failed: %s", policy, exc)
            return False

    if policy == "periodic":
        return lambda cycle, _record: (cycle + 1) % 10 == 0 and train(rt.settings.training_window)
    if policy == "oracle":
        return lambda cycle, _record: cycle in EVERY_CHANGE and train(200)
    if policy == "adwin":
        from river.drift import ADWIN

        detector = ADWIN()

        def adwin(_cycle: int, record: CycleRecord) -> bool:
            model = rt.registry.load(record.champion_version)
            window = rt.store.read_samples(record.first_sample_id, record.last_sample_id, incoming=True)
            errors = (model.predict_proba(window.X)[:, 1] >= 0.5) != (window.y == 1)
            changed = False
            for error in errors:
                detector.update(float(error))
                changed |= detector.drift_detected
            return changed and train(min(int(detector.width), rt.settings.training_window))

        return adwin
    return None


def summarise(runs: list[Run], oracle_means: list[float]) -> dict[str, tuple[float, float, float]]:
    def stat(values: list[float]) -> tuple[float, float, float]:
        return float(np.mean(values)), float(np.min(values)), float(np.max(values))

    means = [float(np.mean(r.accuracy)) for r in runs]
    worst = [float(np.min(np.convolve(r.accuracy, np.ones(5) / 5, mode="valid"))) for r in runs]
    retrains = [len(r.retrain_cycles) for r in runs]
    unneeded, delays, stable = [], [], []
    for r in runs:
        previous, pointless = -1, 0
        for c in r.retrain_cycles:
            pointless += not any(previous < cp <= c for cp in EVERY_CHANGE)
            previous = c
        unneeded.append(pointless)
        found = [next((c - cp for c in r.retrain_cycles if c >= cp), None) for cp in CHANGES]
        delays.append(float(np.mean([d for d in found if d is not None])) if any(d is not None for d in found) else float("nan"))
        stable.append(sum(any(c in s for s in STABLE_STRETCHES) for c in r.retrain_cycles))
    regret = [o - m for o, m in zip(oracle_means, means, strict=True)]
    return {
        "mean served accuracy": stat(means), "worst 5-cycle window": stat(worst), "retrains": stat(retrains),
        "retrains with no change behind them": stat(unneeded), "detection delay (cycles)": stat(delays),
        "retrains on stable stretches": stat(stable), "regret vs oracle (points)": stat([100 * r for r in regret]),
        "cycles": stat([len(r.accuracy) for r in runs]), "alerts": stat([r.alerts for r in runs]),
        "info alerts": stat([r.info_alerts for r in runs]),
        "estimate MAE": stat([float(np.mean(r.estimate_errors)) if r.estimate_errors else float("nan") for r in runs]),
    }  # fmt: skip


def _cell(metric: str, mean: float, lo: float, hi: float, policy: str) -> str:
    if metric in ("cycles", "alerts", "info alerts", "estimate MAE") and policy not in LOOP_POLICIES:
        return "—"  # driven from outside the loop, which only monitors: its alerts are not the policy's
    if metric == "estimate MAE":
        return f"{mean:.3f}"
    if "accuracy" in metric or "window" in metric:
        return f"{mean:.3f} ({lo:.3f}–{hi:.3f})"
    return f"{mean:.1f} ({lo:.0f}–{hi:.0f})"


def chart(results: dict[str, list[Run]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4.5), dpi=110)
    for policy, runs in results.items():
        curve = np.mean([r.accuracy for r in runs], axis=0)
        ax.plot(curve, label=policy, linewidth=2.2 if policy == DEFAULT else 1.0)
    start = 0
    for name, _strength, n in SCRIPT:
        ax.axvline(start, color="grey", linestyle=":", linewidth=0.8)
        ax.text(start + 1, 0.36, name.replace("_", " "), fontsize=8, color="dimgrey")
        start += n
    ax.set(xlabel="cycle (200 rows each)", ylabel="served accuracy (prequential, mean of seeds)", ylim=(0.35, 1.0))
    ax.legend(ncol=8, fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    for key in [k for k in os.environ if k.startswith("MLFLOW_")]:
        del os.environ[key]
    results: dict[str, list[Run]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for policy in POLICIES:
            results[policy] = [replay(policy, seed, Path(tmp)) for seed in range(1, args.seeds + 1)]
            print(f"{policy}: mean served accuracy {np.mean([np.mean(r.accuracy) for r in results[policy]]):.4f}", flush=True)
    oracle = [float(np.mean(r.accuracy)) for r in results["oracle"]]
    rows = {policy: summarise(runs, oracle) for policy, runs in results.items()}
    metrics = list(next(iter(rows.values())))
    print(
        f"\n{len(SCRIPT)} regimes, {sum(n for *_x, n in SCRIPT)} cycles, changes at cycles {', '.join(map(str, CHANGES))}; {args.seeds} seeds\n"
    )
    print("| policy | " + " | ".join(metrics) + " |")
    print("|---|" + "---|" * len(metrics))
    for policy, values in rows.items():
        cells = [_cell(k, m, lo, hi, policy) for k, (m, lo, hi) in values.items()]
        print(f"| {policy}{' (default)' if policy == DEFAULT else ''} | " + " | ".join(cells) + " |")
    chart(results, ROOT / "docs" / "policies.png")
    print("\nchart: docs/policies.png")


if __name__ == "__main__":
    main()
