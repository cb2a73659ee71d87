"""IA Continu's core: everything but the dashboard. Each folder is a layer, and a module imports only
from its own layer or the ones before it (tests/core/test_layers.py reads the layer off the path).

Lowest first:

- `config`, `errors`: settings and the errors everything raises;
- `domain/`: the vocabulary (the feature contract, a workspace's schema, validation, typed outcomes, ids, clock);
- `data/`: tables and streams as frames (a user's table checked against its schema, the generators);
- `stats/`: the drift tests and a version's evaluation;
- `ml/`: training, row scoring, the choice of a training window;
- `rules/`: the retrain policy and a cycle's verdict in words;
  (everything so far is pure: no store, no MLflow, no network, testable on arrays)
- `store/`: the DuckDB file and the prediction journal, the only SQL;
- `io/`: the rest of the outside world: Discord, users' files; and MLflow in `tracking`, directly under `core`
  (the only module importing mlflow, where the project's rule keeps it), whose layer is `io`;
- `services/`: what is built on them: registry, predictor, insights, health, reference, retention, the stream;
- `actions/`: the use cases people and the loop run: models, data, labels;
- `loop/`: the drift monitor, one cycle's pipeline, the scheduler and its controls;
- `runtime`: wires one workspace's services together and hands the doors its use cases;
- doors: `api/` (REST, metrics), `startup`, `workspaces`; then `replica/` and `serve`, a serving-only
  process that reuses the API's prediction routes. The dashboard (`ui/`, `app_pages/`) is a door outside.
"""

ORDER = ("base", "domain", "data", "stats", "ml", "rules", "store", "io", "services", "actions", "loop", "wiring", "doors", "replica")
PURE = frozenset({"base", "domain", "data", "stats", "ml", "rules"})
_TOP_LEVEL = {"config": "base", "errors": "base", "tracking": "io", "runtime": "wiring", "api": "doors", "startup": "doors",
              "workspaces": "doors", "serve": "replica"}  # fmt: skip


def layer_of(module: str) -> str:
    """A module's layer, from its path: its folder under `core`, or for the few modules directly in `core`, theirs.

    >>> layer_of("core.stats.drift"), layer_of("core.config"), layer_of("core.api.routes.models")
    ('stats', 'base', 'doors')
    """
    first = module.removeprefix("core.").split(".")[0]
    return _TOP_LEVEL.get(first, first)
