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

from core.config import POLICIES
from core.domain.prediction_ids import CLIENT_ID_PATTERN, MAX_ID_LENGTH

NUMBER_LIST = {"type": "array", "items": {"type": "number"}}
UNSEEN_TEXT = (
    "The columns whose category the model never saw in training (empty when it saw every one). Such a value is "
    'scored through the column\'s "infrequent" bucket when training had rare categories, and otherwise adds '
    "nothing to the log-odds (its one-hot columns are all zero); POST /explain shows each column's part"
)


class Body(BaseModel):
    """A request body: a field the API does not know is refused (422 naming it), never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class PredictRequest(Body):
    features: Any = Field(
        ..., description="One row: in the demo, a number per feature in order (feature_1, feature_2, ...); in a workspace "
        "built from a table, an object of every column's value by name (GET /schema): null for a missing value where the "
        "column allows one, a column left out is refused; a category is one however it is written (3 = 3.0 = \"3\")",
        examples=[[1.5, 2.3]],
        json_schema_extra=NUMBER_LIST,
    )  # fmt: skip
    prediction_id: Any = Field(
        None, description="Your own id for this prediction (unique in the workspace, 1 to 128 printable characters without spaces); "
        "one is made when absent. Send its label later to POST /feedback", examples=["order-1842"],
    )  # fmt: skip


class PredictReply(BaseModel):
    prediction: int | str = Field(description="Predicted class, as the workspace's target writes it (0 or 1 in the demo)", examples=[1])
    confidence: float = Field(description="Probability of the predicted class (max class probability)", examples=[0.93])
    probability: float | None = Field(
        description="Probability of the second class (class 1) with two classes; null with more", examples=[0.93]
    )
    probabilities: dict[str, float] = Field(description="Every class's probability, by class", examples=[{"0": 0.07, "1": 0.93}])
    model_version: str = Field(description="The champion that answered", examples=["v1.2.0"])
    timestamp: str = Field(description="ISO 8601 UTC", examples=["2026-11-26T14:07:04.123456Z"])
    prediction_id: str = Field(description="The prediction's id: yours, or the one made for it; its label goes to POST /feedback")
    unseen: list[str] = Field(
        description=UNSEEN_TEXT, examples=[["island"]],
    )  # fmt: skip


class BatchRequest(Body):
    rows: Any = Field(
        ..., description="Rows of features, at most IA_MAX_SAMPLES_PER_REQUEST", examples=[[[1.5, 2.3], [-0.4, 0.2]]],
        json_schema_extra={"type": "array", "items": NUMBER_LIST},
    )  # fmt: skip
    prediction_ids: Any = Field(None, description="Your own id per row (unique, 1 to 128 characters each); made when absent")


class BatchReply(BaseModel):
    predictions: list[int | str]
    confidences: list[float]
    probabilities: list[float] | list[list[float]] = Field(
        description="Class 1's probability per row with two classes; every class's (in the schema's order) with more"
    )
    model_version: str
    count: int
    timestamp: str
    prediction_ids: list[str] = Field(description="Each row's prediction id, for POST /feedback")
    unseen: list[list[str]] = Field(description=f"Per row (in the rows' order): {UNSEEN_TEXT[0].lower()}{UNSEEN_TEXT[1:]}",
                                    examples=[[[], ["island"]]])  # fmt: skip


class FeedbackRequest(Body):
    labels: Any = Field(
        ..., description="1 to IA_MAX_LABELS_PER_REQUEST labels, one per prediction id", examples=[[{"prediction_id": "order-1842", "label": 1}]],
        json_schema_extra={"type": "array", "items": {"type": "object"}},
    )  # fmt: skip
    correct: Any = Field(False, description="true: replace labels already given for these ids (otherwise they are refused)")


class FeedbackReply(BaseModel):
    received: int = Field(description="Labels in the request")
    matched: int = Field(description="Ids found in the prediction log")
    stored: int = Field(description="New labels stored (each an incoming labelled row for the loop)")
    corrected: int = Field(description="Labels replaced (correct: true)")
    unknown: list[str] = Field(description="Ids the prediction log does not hold")
    expired: list[str] = Field(description="Ids issued before the prediction log's retention (IA_RETAIN_PREDICTIONS_DAYS) began")
    already_labelled: list[str] = Field(description="Ids with a label already, left as they were (send correct: true to replace)")


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


class DatasetUpdate(Body):
    name: Any = Field(None, description="1 to 200 printable characters")
    tags: Any = Field(
        None, description="Up to 10 tags of at most 40 characters (letters, digits, spaces, - _ . :)", examples=[["baseline"]]
    )


class DatasetReply(BaseModel):
    dataset_id: int
    samples_created: int
    first_sample_id: int
    last_sample_id: int
    timestamp: str
    duplicate_of: int | None = Field(
        default=None, description="An earlier dataset whose file had exactly these bytes (this one is a second copy), or null"
    )


class Check(BaseModel):
    ok: bool
    detail: str


class HealthReply(BaseModel):
    status: str = Field(description="ok, or degraded naming the failing components", examples=["ok"])
    timestamp: str
    version: str = Field(description="The package version")
    uptime_seconds: float = Field(description="Since the workspace was opened here (a workspace switch starts it again)")
    process_uptime_seconds: float | None = Field(None, description="Since the server process started (the workbench)")
    replica: str | None = Field(None, description="The replica's name (a serving replica)")
    components: dict[str, Check]


class LoopUpdate(Body):
    state: Any = Field(None, description="running or paused")
    interval: Any = Field(None, description="Seconds between cycles (IA_SCHEDULER_INTERVAL limits)")
    policy: Any = Field(None, description=", ".join(POLICIES) + " (the first is the default)")
    thresholds: dict[str, Any] | None = Field(
        None, description="Run-time controls by name (ks_alpha, wasserstein_threshold, perf_tolerance, ...)",
        examples=[{"ks_alpha": 0.004, "retrain_cooldown_cycles": 2}],
    )  # fmt: skip


class StreamUpdate(Body):
    enabled: Any = Field(None, description="true or false")
    scenario: Any = Field(None, description="stable, covariate_shift, concept_drift, gradual or label_noise")
    strength: Any = Field(None, description="0 to 2")
    batch_size: Any = Field(None, description="Rows per cycle (IA_STREAM_BATCH_SIZE limits)")
    label_delay_cycles: Any = Field(
        None, description="Cycles the stream's labels (simulated or replayed) arrive after its predictions (0: with the rows)"
    )
    source: Any = Field(None, description='"simulator", or the id of a library dataset to replay a batch per cycle', examples=[3])
    position: Any = Field(None, description="Rows of the replayed dataset already replayed (0 starts it over)")
    at_end: Any = Field(None, description="What the replay does after its last row: stop, or restart")


class FieldProblem(BaseModel):
    field: str = Field(description="A field refused")
    error: str = Field(description="Why, with its limit")


class Problem(BaseModel):
    error: str = Field(description="What went wrong, for a person")
    field: str | None = Field(None, description="The field at fault, for bad input")
    error_id: str | None = Field(None, description="For a 500: the id of the log line with the details")
    errors: list[FieldProblem] | None = Field(
        None, description="For bad input: every field refused in the request, each with its message (`field` is the first)"
    )


# the limits the validation layer enforces, stated in the schema ------------------------------------
VERSION_PATTERN = r"^(v1\.\d{1,8}\.0|[1-9]\d{0,8})$"  # a label (v1.2.0) or a registry number (3); see registry.parse_version
TAG_PATTERN = r"^[A-Za-z0-9 _.:-]{1,40}$"
ID_SCHEMA = {"type": "string", "pattern": CLIENT_ID_PATTERN, "minLength": 1, "maxLength": MAX_ID_LENGTH}


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def _setting(settings_fields: dict, name: str) -> dict:
    """A run-time control's JSON schema from the same Settings metadata its validation reads."""
    field = settings_fields[name]
    meta, kind = field.metadata, str(field.type)
    if "choices" in meta:
        return {"type": "string", "enum": list(meta["choices"])}
    if kind == "bool":
        return {"type": "boolean"}
    schema: dict = {"type": "integer" if kind == "int" else "number"}
    for bound, key in (("min", "minimum"), ("max", "maximum")):
        if bound in meta:
            schema[key] = meta[bound]
    return schema


MISSING_TEXT = "null for a missing value (imputed by the model); the column must still be sent: left out, it is refused"
CATEGORY_TEXT = ("a category: text, a number or true/false, one category however it is written (3, 3.0 and \"3.0\" are "
                 "the category \"3\"; true is \"true\")")  # fmt: skip


def feature_row(schema: Any, max_abs: float) -> dict:
    """One row as the workspace takes it: a list of numbers (the demo's schema), or an object by column name
    (numbers within ±max_abs, categories as `core.data.table_check.checked_rows` takes them): every column is required, and
    one that allows missing values may be null."""
    number = {"type": "number", "minimum": -max_abs, "maximum": max_abs}
    if schema.plain:
        return {"type": "array", "items": number, "minItems": len(schema.names), "maxItems": len(schema.names)}
    properties = {}
    for column in schema.features:
        stated = dict(number) if column.kind == "numeric" else _category(column)
        if column.missing:
            described = stated.pop("description", "a number")
            stated = {**_nullable(stated), "description": f"{described}; {MISSING_TEXT}"}
        properties[column.name] = stated
    return {"type": "object", "properties": properties, "required": list(schema.names), "additionalProperties": False}


def _category(column: Any) -> dict:
    stated: dict = {"anyOf": [{"type": "string", "minLength": 1, "maxLength": 200}, {"type": "number"}, {"type": "boolean"}],
                    "description": CATEGORY_TEXT}  # fmt: skip
    if column.categories:
        shown = ", ".join(column.categories[:20]) + (" …" if len(column.categories) > 20 else "")
        stated["description"] += f"; seen in the first data: {shown} (others are accepted, scored and named in `unseen`)"
        stated["examples"] = list(column.categories[:3])
    return stated


def _class_label(classes: tuple) -> dict:
    """A label: a class as a number or as its text; 1, 1.0 and "1" are the class 1 (`core.data.table_check.class_index`)."""
    texts = [str(c) for c in classes if not isinstance(c, str)]
    return {"enum": [*classes, *texts], "description": 'a class; a number and its text are one class (1, 1.0 and "1" are 1)'}


def stated_limits(settings: Any, schema: Any, controls: tuple[str, ...], scenarios: list[str], roles: tuple[str, ...]) -> dict:
    """Per body schema, per property: what a request must hold to be accepted, so generated clients and
    fuzzers agree with the server (before, `{"features": [0]}` was valid by the schema and refused)."""
    from dataclasses import fields

    from core.data.synthetic_stream import MAX_STRENGTH
    from core.ml.training import C_LIMITS, CLASS_WEIGHTS

    all_fields = {f.name: f for f in fields(type(settings))}
    row = feature_row(schema, settings.feature_max_abs)
    most = settings.max_samples_per_request
    thresholds = {name: _setting(all_fields, name) for name in controls if name not in ("policy", "scheduler_interval")}
    label_item = {
        "type": "object", "properties": {"prediction_id": ID_SCHEMA, "label": _class_label(schema.classes)},
        "required": ["prediction_id", "label"], "additionalProperties": False,
    }  # fmt: skip
    return {
        "GenerateRequest": {
            "samples": {"type": "integer", "minimum": 1, "maximum": most},
            "scenario": {"type": "string", "enum": scenarios, "default": "stable"},
            "strength": {"type": "number", "minimum": 0, "maximum": MAX_STRENGTH, "default": 1.0},
            "seed": _nullable({"type": "integer", "minimum": 0, "maximum": 2**32 - 1}),
            "role": {"type": "string", "enum": list(roles), "default": "library"},
        },
        "RetrainRequest": {
            "dataset_ids": _nullable({"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}, "maxItems": 1000}),
            "window_rows": _nullable({"type": "integer", "minimum": 50, "maximum": 10**9}),
            "C": {"type": "number", "minimum": C_LIMITS[0], "maximum": C_LIMITS[1], "default": 1.0},
            "class_weight": {"type": "string", "enum": list(CLASS_WEIGHTS), "default": "none"},
            "promote": {"type": "boolean", "default": True},
        },
        "LoopUpdate": {
            "state": _nullable({"type": "string", "enum": ["running", "paused"]}),
            "interval": _nullable(_setting(all_fields, "scheduler_interval")),
            "policy": _nullable(_setting(all_fields, "policy")),
            "thresholds": _nullable({"type": "object", "properties": thresholds, "additionalProperties": False}),
        },
        "StreamUpdate": {
            "enabled": _nullable({"type": "boolean"}),
            "scenario": _nullable({"type": "string", "enum": scenarios}),
            "strength": _nullable({"type": "number", "minimum": 0, "maximum": MAX_STRENGTH}),
            "batch_size": _nullable(_setting(all_fields, "stream_batch_size")),
            "label_delay_cycles": _nullable(_setting(all_fields, "label_delay_cycles")),
            "source": _nullable(
                {"anyOf": [{"type": "string", "enum": ["simulator"]}, {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}]}
            ),
            "position": _nullable({"type": "integer", "minimum": 0, "maximum": 2**31 - 1}),
            "at_end": _nullable({"type": "string", "enum": ["stop", "restart"]}),
        },
        "PredictRequest": {"features": row, "prediction_id": _nullable(ID_SCHEMA)},
        "BatchRequest": {
            "rows": {"type": "array", "items": row, "minItems": 1, "maxItems": most},
            "prediction_ids": _nullable({"type": "array", "items": ID_SCHEMA, "minItems": 1, "maxItems": most, "uniqueItems": True}),
        },
        "FeedbackRequest": {
            "labels": {"type": "array", "items": label_item, "minItems": 1, "maxItems": settings.max_labels_per_request},
            "correct": {"type": "boolean", "default": False},
        },
        "DatasetUpdate": {
            "name": _nullable({"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"^\S(.*\S)?$"}),
            "tags": _nullable({"type": "array", "items": {"type": "string", "pattern": TAG_PATTERN}, "maxItems": 10}),
        },
    }
