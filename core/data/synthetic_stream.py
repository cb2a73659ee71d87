"""Synthetic binary classification and the drift scenarios of the simulated stream.

Pure numpy with a seeded Generator: the same arguments give the same data. Features
are standard normal; the label is drawn from a logistic model around a linear
boundary through the origin (P(y=1) = sigmoid(5.5 * distance)), so labels near the
boundary are noisy and a fresh model scores about 0.9, not 1.0. Being logistic, the
truth is one a LogisticRegression can learn calibrated, so the label-free accuracy
estimate tracks the realised accuracy on stable data.
Each scenario changes one thing, so its effect on a model can be explained:

- stable: the training distribution.
- covariate_shift: every feature's mean moves by `strength` standard deviations;
  the boundary stays, so the model is still right but the data looks different.
- concept_drift: the boundary rotates by `strength` x 90 degrees; the features look
  the same but a model trained on stable data falls towards a coin flip.
- gradual: like concept drift, the rotation growing with `step` until it reaches
  `strength` x 90 degrees after GRADUAL_STEPS steps.
- label_noise: an extra `strength` x 25 % of labels flipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.domain import validation
from core.errors import UserInputError

SCENARIOS = ("stable", "covariate_shift", "concept_drift", "gradual", "label_noise")
SCENARIO_LABELS = {
    "stable": "Stable",
    "covariate_shift": "Covariate shift (means move)",
    "concept_drift": "Concept drift (boundary rotates)",
    "gradual": "Gradual drift (rotation grows each cycle)",
    "label_noise": "Label noise",
}
BOUNDARY_SHARPNESS = 5.5
GRADUAL_STEPS = 10
MAX_STRENGTH = 2.0


@dataclass(frozen=True)
class Scenario:
    name: str = "stable"
    strength: float = 1.0
    step: int = 0

    def __post_init__(self) -> None:
        validation.choice(self.name, "scenario", SCENARIOS)
        object.__setattr__(self, "strength", validation.number(self.strength, "strength", 0.0, MAX_STRENGTH))

    @property
    def rotation(self) -> float:
        """Angle of the boundary in radians."""
        if self.name == "concept_drift":
            return self.strength * np.pi / 2
        if self.name == "gradual":
            return self.strength * np.pi / 2 * min(1.0, self.step / GRADUAL_STEPS)
        return 0.0

    @property
    def mean_shift(self) -> float:
        return self.strength if self.name == "covariate_shift" else 0.0

    @property
    def label_flips(self) -> float:
        """Share of labels flipped on top of the logistic noise."""
        return min(0.5, 0.25 * self.strength) if self.name == "label_noise" else 0.0


def boundary_normal(n_features: int, rotation: float) -> np.ndarray:
    """The boundary's normal: all features weigh equally, rotated towards (1, -1, 0, ...)."""
    w = np.ones(n_features) / np.sqrt(n_features)
    u = np.zeros(n_features)
    u[:2] = (1.0, -1.0)
    u /= np.linalg.norm(u)
    return np.cos(rotation) * w + np.sin(rotation) * u


def generate(n_samples: int, n_features: int = 2, scenario: Scenario | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Draw `n_samples` rows of (X float64, y int8) from `scenario`."""
    scenario = scenario or Scenario()
    if n_samples < 1:
        raise UserInputError("n_samples", f"{n_samples} must be at least 1")
    if n_features < 2:
        raise UserInputError("n_features", f"{n_features} must be at least 2")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    if scenario.mean_shift:
        X += scenario.mean_shift
    # The boundary passes through the stable mean, so a shift changes the class balance too.
    distance = X @ boundary_normal(n_features, scenario.rotation)
    y = (rng.random(n_samples) < 1.0 / (1.0 + np.exp(-BOUNDARY_SHARPNESS * distance))).astype(np.int8)
    if scenario.label_flips:
        y[rng.random(n_samples) < scenario.label_flips] ^= 1
    return X, y
