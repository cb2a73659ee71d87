"""Datasets people add, rename, tag, delete or send to the loop; every argument checked before anything is stored."""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from core.config import Settings
from core.data import synthetic_stream
from core.data.csv_import import parse_labelled_csv
from core.data.table_check import Encoded
from core.domain import validation
from core.domain.outcomes import version_label
from core.errors import UserInputError
from core.io.table_files import checked_sources, content_digest
from core.services.stream_source import stream_source
from core.store import DatasetInfo, Store
from core.store.datasets import ROLES


def checked_dataset_ids(store: Store, dataset_ids: object, field: str = "dataset_ids") -> list[int]:
    """Dataset ids a user gave, checked: a list of known ids, deduplicated and sorted; refusals name `field` as the
    request did (/retrain's dataset_ids)."""
    if not isinstance(dataset_ids, list | tuple) or len(dataset_ids) > 1000:
        raise UserInputError(field, "expected a list of up to 1,000 dataset ids")
    known = set(store.datasets()["dataset_id"].tolist())
    ids = sorted({validation.integer(i, field, 1, 2**31 - 1) for i in dataset_ids})
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise UserInputError(field, f"no dataset {', '.join(map(str, unknown[:5]))}")
    return ids


def checked_dataset_id(store: Store, dataset_id: object) -> int:
    """One dataset id a user gave (a path's {dataset_id}, a form's choice), checked."""
    (checked,) = checked_dataset_ids(store, [dataset_id], "dataset_id")
    return checked


class DataActions:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings

    def generate(
        self, n_samples: int, scenario: str = "stable", strength: float = 1.0, seed: int | None = None, role: str = "library"
    ) -> DatasetInfo:
        """Draw a synthetic dataset: a library dataset, or incoming data sent to the loop (`role`)."""
        role = validation.choice(role, "role", ROLES)
        self._require_synthetic()
        n_samples = validation.integer(n_samples, "samples", 1, self.settings.max_samples_per_request)
        seed = self.settings.seed if seed is None else validation.seed(seed)
        spec = synthetic_stream.Scenario(scenario, strength)
        X, y = synthetic_stream.generate(n_samples, self.store.n_features, spec, seed)
        name = f"{synthetic_stream.SCENARIO_LABELS[scenario]} · {n_samples:,} rows · seed {seed}"
        return self.store.insert_dataset(
            X, y, source="generated", name=name, scenario=scenario, strength=spec.strength, seed=seed, role=role
        )

    def generate_starter(self, n_rows: int, seed: int) -> DatasetInfo:
        """The labelled rows an empty workspace starts from, as incoming data the first model trains on."""
        self._require_synthetic()
        X, y = synthetic_stream.generate(n_rows, self.store.n_features, synthetic_stream.Scenario("stable"), seed)
        return self.store.insert_dataset(
            X, y, source="starter", name=f"Starter (synthetic, stable) · {n_rows:,} rows", role="incoming", scenario="stable",
            strength=0.0, seed=seed,
        )  # fmt: skip

    def _require_synthetic(self) -> None:
        if not self.store.schema.plain:
            raise UserInputError(
                "workspace", f"the generator makes the demo's columns (feature_1 …); this workspace has its own "
                f"({', '.join(self.store.schema.names[:6])}…): import a file of them instead",
            )  # fmt: skip

    def import_csv(self, data: bytes | str, name: str = "imported.csv", role: str = "library") -> DatasetInfo:
        """A labelled CSV (or, in a workspace with its own schema, a CSV or Parquet file) as a dataset, its
        columns checked by name against the schema; a file imported before is stored again and named as a duplicate."""
        role = validation.choice(role, "role", ROLES)
        raw = data.encode() if isinstance(data, str) else bytes(data)
        name = validation.text(name, "name")
        if self.store.schema.plain:
            digest = content_digest(raw)
            earlier = self.store.dataset_with_hash(digest)
            parsed = parse_labelled_csv(data, self.store.n_features, self.settings.max_samples_per_request, self.settings.feature_max_abs)
            info = self.store.insert_dataset(parsed.X, parsed.y, source="imported", name=name, role=role, content_hash=digest)
        else:
            # The hash (the duplicate check) runs beside DuckDB's read: both let go of the GIL, and on a large
            # file it cost a tenth of the import.
            with ThreadPoolExecutor(1) as pool, tempfile.TemporaryDirectory() as folder:
                hashing = pool.submit(content_digest, raw)
                path = Path(folder) / ("upload.parquet" if name.lower().endswith(".parquet") else "upload.csv")
                path.write_bytes(raw)
                schema = self.store.schema
                wanted = [*schema.categorical, schema.target]
                sources = checked_sources(path, name, schema.numeric, {n: schema.spellings(n) for n in wanted})
                info = self.store.import_file(
                    sources, name=name, role=role, content_hash=None, max_rows=self.settings.max_samples_per_request
                )
                digest = hashing.result()
            earlier = self.store.dataset_with_hash(digest)  # before this one carries it: an earlier copy, if any
            self.store.set_content_hash(info.dataset_id, digest)
        return replace(info, duplicate_of=earlier["dataset_id"]) if earlier else info

    def import_encoded(self, encoded: Encoded, name: str, role: str = "library", content_hash: str | None = None) -> DatasetInfo:
        """Rows already checked against this workspace's schema (a new workspace's first file; `content_hash`, the
        file's `content_digest`, so importing it again is named a copy)."""
        role = validation.choice(role, "role", ROLES)
        return self.store.insert_dataset(
            encoded.X, encoded.y, source="imported", name=validation.text(name, "name"), role=role, times=encoded.times,
            content_hash=content_hash,
        )  # fmt: skip

    def update(self, dataset_id: object, name: object = None, tags: object = None) -> dict:
        """Rename or tag a dataset; both checked before either is stored."""
        dataset_id = checked_dataset_id(self.store, dataset_id)
        new_name = None if name is None else validation.text(name, "name")
        new_tags = None if tags is None else validation.tags(tags)
        self.store.update_dataset(dataset_id, new_name, new_tags)
        return self.store.dataset(dataset_id)

    def delete(self, dataset_id: object) -> int:
        """Delete a library dataset no model was trained on; refused, with the reason, for data something needs."""
        dataset_id = checked_dataset_id(self.store, dataset_id)
        record = self.store.dataset(dataset_id)
        if record["role"] == "incoming":
            raise UserInputError("dataset_id", f"dataset {dataset_id} was sent to the loop: its cycles, drift references and served "
                                 "accuracy rest on these rows, so it stays (retention archives old stream data)")  # fmt: skip
        if stream_source(self.store, 1).dataset_id == dataset_id:
            raise UserInputError("dataset_id", f"dataset {dataset_id} is the stream's source (being replayed): set another source "
                                 "on the Operations page (or PUT /stream) first")  # fmt: skip
        versions = self.store.versions_trained_on(dataset_id)
        if versions:
            labels = ", ".join(map(version_label, versions))
            raise UserInputError("dataset_id", f"dataset {dataset_id} is the training data of {labels}: their holdouts, evaluations and "
                                 "drift references are its rows, so it stays")  # fmt: skip
        return self.store.delete_dataset(dataset_id)

    def send_to_loop(self, dataset_id: int) -> DatasetInfo:
        """Copy a library dataset into the loop's incoming data: the next cycle reads it as new data. Refused for
        the dataset being replayed: the replay already sends its rows, and a copy would feed them twice."""
        dataset_id = checked_dataset_id(self.store, dataset_id)
        if stream_source(self.store, 1).dataset_id == dataset_id:
            raise UserInputError("dataset_id", f"dataset {dataset_id} is being replayed to the loop a batch per cycle: sending it "
                                 "too would feed its rows twice")  # fmt: skip
        window = self.store.read_datasets([dataset_id])
        name = self.store.dataset(dataset_id)["name"]
        return self.store.insert_dataset(window.X, window.y, source="imported", name=f"Sent to the loop: {name}"[:200], role="incoming")
