"""IA Continu's core: everything but the dashboard, in four layers that import only downwards.

A module's layer says what it may touch; tests/test_layers.py holds every module to it and finds
no import circle. Read a module's layer before adding an import to it.

- pure: computation with no outside world, testable on arrays and lists (the drift tests, training
  and evaluation, the verdicts, validation, the retrain policy, the typed outcomes, settings);
- io: what touches the outside, the DuckDB store, MLflow, Discord, the journal, and the services
  built straight on them (registry, serving, insights, health);
- loop: what runs the loop and the use cases: the drift monitor, the pipeline, the scheduler, the
  model, data and loop actions, and the runtime that builds and closes all of it; a serving
  replica's services (`replica`) are built the same way;
- doors: what callers reach it by: the REST API, Prometheus metrics, the launcher, a replica's HTTP
  door (`replica.app`, `serve`). The dashboard
  (`ui/`, `pages/`) is a door outside this package.

Subpackages would say the same in the file tree, but would move modules that scripts and pickled
notebooks import by path (`core.drift`, `core.training`); the map below says it without moving them.
"""

LAYERS: dict[str, tuple[str, ...]] = {
    "pure": ("config", "errors", "features", "outcomes", "drift", "evaluation", "training", "validation", "verdicts", "policy",
             "datagen", "csv_import", "faults", "store.clock", "schema", "tables", "tablegen", "row_model",
             "prediction_ids", "new_data", "window_choice"),
    "io": ("table_files", "store", "tracking", "notify", "journal", "reference", "controls", "retention", "repair", "registry", "serving",
           "insight", "health", "prediction_log", "ingest"),
    "loop": ("monitor", "pipeline", "scheduler", "model_actions", "data_actions", "loop_control", "runtime", "feedback", "stream_source",
             "replica"),
    "doors": ("api", "metrics", "startup", "workspaces", "replica.app", "serve"),
}  # fmt: skip
ORDER = ("pure", "io", "loop", "doors")
