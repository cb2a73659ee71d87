"""Bodies and replies of the REST API, for `/docs` and `/openapi.json`.

The models carry types, descriptions and examples, and nothing more: every rule on a
value (finite, in range, a known scenario, the feature count) is the validation
layer's, applied by the runtime the handlers call. Fields that the validation layer
checks are typed loosely here on purpose (a string where a number belongs reaches it
and gets its message naming the field and the limit), with the schema still saying
what is expected.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

NUMBER_LIST = {"type": "array", "items": {"type": "number"}}


class Body(BaseModel):
    """A request body: a field the API does not know is refused (422 naming it), never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class PredictRequest(Body):
    features: Any = Field(
        ..., description="One row: a number per feature, in order (feature_1, feature_2, ...)", examples=[[1.5, 2.3]],
        json_schema_extra=NUMBER_LIST,
    )  # fmt: skip


class PredictReply(BaseModel):
    prediction: int = Field(description="Predicted class, 0 or 1", examples=[1])
    confidence: float = Field(description="Probability of the predicted class (max class probability)", examples=[0.93])
    probability: float = Field(description="Probability of class 1", examples=[0.93])
    model_version: str = Field(description="The champion that answered", examples=["v1.2.0"])
    timestamp: str = Field(description="ISO 8601 UTC", examples=["2026-11-26T14:07:04.123456Z"])


class BatchRequest(Body):
    rows: Any = Field(
        ..., description="Rows of features, at most IA_MAX_SAMPLES_PER_REQUEST", examples=[[[1.5, 2.3], [-0.4, 0.2]]],
        json_schema_extra={"type": "array", "items": NUMBER_LIST},
    )  # fmt: skip


class BatchReply(BaseModel):
    predictions: list[int]
    confidences: list[float]
    probabilities: list[float]
    model_version: str
    count: int
    timestamp: str


class RetrainRequest(Body):
    dataset_ids: Any = Field(None, description="Train on these datasets instead of the loop's newest window", examples=[[3, 5]])
    window_rows: Any = Field(None, description="Rows of the loop's newest window (default IA_TRAINING_WINDOW)", examples=[2000])
    C: Any = Field(1.0, description="Inverse regularisation strength of the logistic regression, 0.0001 to 10000", examples=[1.0])
    class_weight: Any = Field("none", description="none, or balanced (weights inversely proportional to class frequencies)")
    promote: Any = Field(True, description="false: register and score the version as a candidate, never promote it")


class RetrainReply(BaseModel):
    status: str = Field(
        description="promoted, rejected, awaiting_approval, candidate (not promoted), or unchanged (identical data and parameters)"
    )
    model_version: str
    training_samples: int
    accuracy: float | None
    promoted: bool
    reason: str
    timestamp: str


class GenerateRequest(Body):
    samples: Any = Field(..., description="Rows to draw, 1 to IA_MAX_SAMPLES_PER_REQUEST", examples=[1000])
    scenario: Any = Field("stable", description="stable, covariate_shift, concept_drift, gradual or label_noise")
    strength: Any = Field(1.0, description="0 to 2", examples=[1.0])
    seed: Any = Field(None, description="0 to 4294967295 (default IA_SEED)", examples=[42])
    role: Any = Field("library", description="library (for training and exploration) or incoming (sent to the loop)")


class DatasetReply(BaseModel):
    dataset_id: int
    samples_created: int
    first_sample_id: int
    last_sample_id: int
    timestamp: str


class Check(BaseModel):
    ok: bool
    detail: str


class HealthReply(BaseModel):
    status: str = Field(description="ok, or degraded naming the failing components", examples=["ok"])
    timestamp: str
    version: str = Field(description="The package version")
    uptime_seconds: float
    components: dict[str, Check]


class LoopUpdate(Body):
    state: Any = Field(None, description="running or paused")
    interval: Any = Field(None, description="Seconds between cycles (IA_SCHEDULER_INTERVAL limits)")
    policy: Any = Field(None, description="drift, approve, always, never or random")
    thresholds: dict[str, Any] | None = Field(
        None, description="Run-time controls by name (ks_alpha, wasserstein_threshold, perf_tolerance, ...)",
        examples=[{"ks_alpha": 0.004, "retrain_cooldown_cycles": 2}],
    )  # fmt: skip


class StreamUpdate(Body):
    enabled: Any = Field(None, description="true or false")
    scenario: Any = Field(None, description="stable, covariate_shift, concept_drift, gradual or label_noise")
    strength: Any = Field(None, description="0 to 2")
    batch_size: Any = Field(None, description="Rows per cycle (IA_STREAM_BATCH_SIZE limits)")


class Problem(BaseModel):
    error: str = Field(description="What went wrong, for a person")
    field: str | None = Field(None, description="The field at fault, for bad input")
    error_id: str | None = Field(None, description="For a 500: the id of the log line with the details")
