"""The generator's realistic mode: a mixed table (numbers, categories, missing values, two or more classes)
with the demo's drift scenarios and two of categories, so tests and demos exercise a user's kind of table
without a file.

Pure and seeded like `core.data.synthetic_stream`. The columns of a small subscription business:

- `monthly_fee` (numbers, log-normal), `tenure_months` (numbers, 5 % missing), `support_calls` (whole
  numbers 0..9, so inferred categorical), `plan` (basic 50 %, plus 30 %, pro 20 %), `region` (50
  categories, Zipf-like shares), `channel` (web, store, phone; 5 % missing).
- The label is drawn from a softmax over the classes of a linear score of those columns (a logistic
  model with two classes), so a logistic regression learns it calibrated and the label-free estimate
  tracks the realised accuracy.

Scenarios (`strength` scales each): `stable`; `covariate_shift` (monthly fee and tenure move by
`strength` standard deviations); `concept_drift` (the weights of the numbers turn round); `label_noise`;
`category_shift` (the share of `plan = pro` goes from 20 % to 20 % + 15 % x strength); `new_category`
(a plan never seen before, `enterprise`, takes 10 % x strength of the rows); `missing_rate` (tenure
goes missing in a further 20 % x strength of the rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.domain import validation
TABLE_SCENARIOS = ("stable", "covariate_shift", "concept_drift", "label_noise", "category_shift", "new_category", "missing_rate")
PLANS, PLAN_SHARES = ("basic", "plus", "pro"), (0.5, 0.3, 0.2)
CHANNELS = ("web", "store", "phone")
REGIONS = tuple(f"region_{i:02d}" for i in range(1, 51))
MISSING_SHARE = 0.05
TARGET = "outcome"
CLASS_NAMES = {2: ("stays", "leaves"), 3: ("stays", "downgrades", "leaves")}


def class_names(n_classes: int) -> tuple[str, ...]:
    return CLASS_NAMES.get(n_classes, tuple(f"class_{chr(97 + i)}" for i in range(n_classes)))


def generate_table(n_rows: int, scenario: str = "stable", strength: float = 1.0, seed: int = 0, n_classes: int = 2) -> pd.DataFrame:
    """`n_rows` rows of the mixed table, the label in column `outcome` (text classes)."""
    validation.choice(scenario, "scenario", TABLE_SCENARIOS)
    n_rows = validation.integer(n_rows, "rows", 1, 10_000_000)
    n_classes = validation.integer(n_classes, "classes", 2, 8)
    strength = validation.number(strength, "strength", 0.0, 2.0)
    rng = np.random.default_rng(seed)
    shift = strength if scenario == "covariate_shift" else 0.0
    fee = np.exp(rng.normal(3.5 + 0.4 * shift, 0.4, n_rows))
    tenure = np.round(np.clip(rng.gamma(2.0, 12.0, n_rows) + 24.0 * shift, 0, None), 1)
    calls = np.minimum(rng.poisson(1.5, n_rows), 9)
    plan = rng.choice(PLANS, n_rows, p=_plan_shares(scenario, strength)).astype(object)
    if scenario == "new_category":
        plan[rng.random(n_rows) < 0.10 * strength] = "enterprise"
    weights = 1.0 / np.arange(1, len(REGIONS) + 1) ** 0.8
    region = rng.choice(REGIONS, n_rows, p=weights / weights.sum()).astype(object)
    channel = rng.choice(CHANNELS, n_rows, p=(0.6, 0.25, 0.15)).astype(object)
    tenure_missing = rng.random(n_rows) < MISSING_SHARE + (0.20 * strength if scenario == "missing_rate" else 0.0)
    channel[rng.random(n_rows) < MISSING_SHARE] = None
    y = _labels(rng, fee, tenure, calls, plan, channel, n_classes, scenario, strength)
    frame = pd.DataFrame({
        "monthly_fee": np.round(fee, 2), "tenure_months": np.where(tenure_missing, np.nan, tenure), "support_calls": calls,
        "plan": plan, "region": region, "channel": channel,
    })  # fmt: skip
    frame[TARGET] = np.array(class_names(n_classes), dtype=object)[y]
    return frame


def _plan_shares(scenario: str, strength: float) -> tuple[float, ...]:
    if scenario != "category_shift":
        return PLAN_SHARES
    pro = min(0.95, PLAN_SHARES[2] + 0.15 * strength)
    rest = (1 - pro) / (1 - PLAN_SHARES[2])
    return (PLAN_SHARES[0] * rest, PLAN_SHARES[1] * rest, pro)


def _labels(
    rng: np.random.Generator, fee: np.ndarray, tenure: np.ndarray, calls: np.ndarray, plan: np.ndarray, channel: np.ndarray,
    n_classes: int, scenario: str, strength: float,
) -> np.ndarray:  # fmt: skip
    """A softmax over class scores; class 0 (stays) is the baseline with score 0."""
    z_fee = (np.log(fee) - 3.5) / 0.4
    z_tenure = (tenure - 24.0) / 17.0
    turn = -1.0 if scenario == "concept_drift" and strength >= 0.5 else 1.0
    plan_effect = np.select([plan == "basic", plan == "plus"], [0.6, 0.0], default=-0.6)
    phone = np.array([c == "phone" for c in channel])
    scores = [np.zeros(fee.shape[0])]
    for k in range(1, n_classes):
        scale = k / (n_classes - 1)
        scores.append(turn * (1.6 * z_fee - 1.4 * z_tenure) * scale + 0.5 * (calls - 1.5) * scale + plan_effect + 0.4 * phone
                      - 0.8 * (k - 1))  # fmt: skip
    logits = np.column_stack(scores) * 1.5
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    y = (rng.random(fee.shape[0])[:, None] > np.cumsum(proba, axis=1)).sum(axis=1)
    y = np.minimum(y, n_classes - 1)
    if scenario == "label_noise":
        flip = rng.random(fee.shape[0]) < min(0.5, 0.25 * strength)
        y[flip] = rng.integers(0, n_classes, int(flip.sum()))
    return y
