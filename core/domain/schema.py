"""A workspace's schema: its columns and their kinds, the target and its classes.

Pure on purpose: the store keeps it as JSON, training builds its pipeline from it, the
doors check values against it, and none of that needs a database to be tested.

Every stored feature column is named `feature_{i}` inside the DuckDB file, whatever the
user called it, so a user's column may be called `source` or `target` without meeting one
of ours (`storage` lists them in the order of `names`). Classes are stored as their index in
`classes` (an int8), so every metric works on 0..k-1 and shows the class as written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal

from core.domain.features import TARGET, feature_names
from core.domain.validation import boolean_spellings
from core.errors import UserInputError

Kind = Literal["numeric", "categorical", "ignored"]
KINDS: tuple[Kind, ...] = ("numeric", "categorical", "ignored")
ClassLabel = int | str

MAX_COLUMNS = 200
MAX_CATEGORIES = 1000
MAX_CLASSES = 50
MAX_NAME = 128


@dataclass(frozen=True)
class Column:
    """One column of the user's table as the model sees it."""

    name: str
    kind: Kind
    missing: bool = False  # missing values allowed (imputed in training, tested for drift in their rate)
    categories: tuple[str, ...] = ()  # the categories of the first data, most frequent first; others are "unseen"
    note: str = ""  # why inference chose the kind, shown in the preview

    def row(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "missing": self.missing, "categories": list(self.categories), "note": self.note}

    @cached_property
    def spellings(self) -> dict[str, str]:
        """How this column's categories spell true and false, so every door maps another case to them
        (`validation.boolean_spellings`); read per value on the predict path, so computed once."""
        return boolean_spellings(self.categories)


@dataclass(frozen=True)
class Schema:
    """The columns a workspace takes, in the user's order, and what it predicts."""

    columns: tuple[Column, ...]
    target: str
    classes: tuple[ClassLabel, ...]
    time_column: str | None = None
    id_column: str | None = None
    synthetic: bool = False  # the generator's feature_1..n schema, served as plain float rows

    def __post_init__(self) -> None:
        check(self)

    # what the model sees ---------------------------------------------------
    @property
    def features(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.kind != "ignored")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.features]

    @property
    def carried(self) -> list[str]:
        """The columns a table may hold that the model does not read: the ignored ones (the time and id columns among
        them) and the target. A batch's results hand them back as the file wrote them."""
        return [c.name for c in self.columns if c.kind == "ignored"] + [self.target]

    @property
    def numeric(self) -> list[str]:
        return [c.name for c in self.features if c.kind == "numeric"]

    @property
    def categorical(self) -> list[str]:
        return [c.name for c in self.features if c.kind == "categorical"]

    @property
    def storage(self) -> list[str]:
        """The DuckDB columns of the features, in the same order as `names`."""
        return feature_names(len(self.features))

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def spellings(self, name: str) -> dict[str, str]:
        """How a categorical column's categories, or the target's classes, spell true and false."""
        return boolean_spellings(self.classes, pair=False) if name == self.target else self.column(name).spellings

    @property
    def plain(self) -> bool:
        """Rows are float vectors (the synthetic schema): the fast paths of the demo stay as they were."""
        return self.synthetic

    def storage_sql_types(self) -> list[tuple[str, str]]:
        """(DuckDB column, type) of each feature: numbers as DOUBLE, categories as text; NOT NULL unless missing is allowed."""
        return [
            (s, ("DOUBLE" if c.kind == "numeric" else "VARCHAR") + ("" if c.missing else " NOT NULL"))
            for s, c in zip(self.storage, self.features, strict=True)
        ]

    def signature_inputs(self) -> list[dict[str, object]] | None:
        """The MLflow signature's inputs as data, for the tracker to build its ColSpecs from (only core.tracking
        imports mlflow): per feature column its name, MLflow type (double or string) and whether it is required.
        Every column is: a missing value is sent as null (accepted by MLflow's enforcement and imputed by the
        pipeline), and a column left out is refused at every door (`core.data.table_check.checked_rows`), as MLflow then
        refuses it, naming it, where an optional column would reach the pipeline and fail there. None for the
        synthetic schema, whose float rows have no names to state."""
        if self.plain:
            return None
        return [{"name": c.name, "type": "double" if c.kind == "numeric" else "string", "required": True} for c in self.features]

    # JSON --------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(self.document())

    def document(self) -> dict[str, object]:
        """What `GET /schema` answers and the Data page shows."""
        return {
            "columns": [c.row() for c in self.columns],
            "target": self.target,
            "classes": list(self.classes),
            "time_column": self.time_column,
            "id_column": self.id_column,
            "synthetic": self.synthetic,
        }

    @classmethod
    def from_json(cls, text: str) -> Schema:
        doc = json.loads(text)
        columns = tuple(
            Column(c["name"], c["kind"], bool(c.get("missing")), tuple(c.get("categories", ())), c.get("note", "")) for c in doc["columns"]
        )
        return cls(columns, doc["target"], tuple(doc["classes"]), doc.get("time_column"), doc.get("id_column"), bool(doc.get("synthetic")))

    @classmethod
    def demo(cls, n_features: int) -> Schema:
        """The generator's schema: feature_1..n numbers, never missing, and a 0/1 target."""
        return cls(tuple(Column(n, "numeric") for n in feature_names(n_features)), TARGET, (0, 1), synthetic=True)

    def with_kinds(self, kinds: dict[str, Kind]) -> Schema:
        """The same schema with some columns' kinds overridden (the user's review of an inference)."""
        unknown = sorted(set(kinds) - {c.name for c in self.columns})
        if unknown:
            raise UserInputError(
                "columns", f"no column named {', '.join(map(repr, unknown))} (known: {', '.join(c.name for c in self.columns)})"
            )
        return replace(self, columns=tuple(replace(c, kind=kinds.get(c.name, c.kind)) for c in self.columns))


def check(schema: Schema) -> None:
    """A schema a workspace can be built on, or a refusal naming the column."""
    names = [c.name for c in schema.columns]
    for name in [*names, schema.target]:
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or any(ord(ch) < 32 for ch in name):
            raise UserInputError("columns", f"column names must be 1 to {MAX_NAME} printable characters, got {name!r}")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UserInputError("columns", f"duplicate column name(s) {', '.join(map(repr, duplicates))}: every column needs its own name")
    if TARGET in [c.name for c in schema.features] and not schema.synthetic:
        raise UserInputError(TARGET, f"a feature may not be called {TARGET!r} (the workbench's name for the label): rename the column")
    if schema.target in names:
        raise UserInputError("target", f"{schema.target!r} is the target: it cannot also be a feature")
    if len(names) > MAX_COLUMNS:
        raise UserInputError("columns", f"{len(names)} columns is more than the limit of {MAX_COLUMNS}")
    for c in schema.columns:
        if c.kind not in KINDS:
            raise UserInputError(c.name, f"kind must be one of {', '.join(KINDS)}, got {c.kind!r}")
        if len(c.categories) > MAX_CATEGORIES:
            raise UserInputError(c.name, f"{len(c.categories):,} categories is more than the limit of {MAX_CATEGORIES:,}")
    if not schema.features:
        raise UserInputError("columns", "no feature column: mark at least one column numeric or categorical")
    if not 2 <= len(schema.classes) <= MAX_CLASSES:
        raise UserInputError(
            schema.target, f"the target has {len(schema.classes)} class(es): a model needs from 2 to {MAX_CLASSES} classes"
        )
    if len({str(c) for c in schema.classes}) != len(schema.classes):
        raise UserInputError(schema.target, f"classes must differ, got {list(schema.classes)}")
    for role, name in (("time_column", schema.time_column), ("id_column", schema.id_column)):
        if name is not None and name in schema.names:
            raise UserInputError(role, f"{name!r} is a feature: a {role.replace('_', ' ')} is not one")
