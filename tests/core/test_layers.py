"""The layering of `core` (its docstring): imports point down, pure modules touch nothing outside, no circles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from core import ORDER, PURE, layer_of

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE_WORLD = ("duckdb", "mlflow", "requests", "httpx", "fastapi", "starlette", "uvicorn", "streamlit", "prometheus_client", "pyarrow")


def modules() -> dict[str, Path]:
    found = {}
    for path in (ROOT / "core").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(path: Path, known: set[str]) -> tuple[set[str], set[str]]:
    """The `core` modules and the outside packages `path` imports when it runs (type-only imports left out)."""
    tree = ast.parse(path.read_text())
    type_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                 for n in ast.walk(node)}  # fmt: skip
    ours, theirs = set(), set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names]
            submodules = [n for n in names if n in known]
            if node.module.startswith("core"):
                ours |= set(submodules) if len(submodules) == len(names) else {node.module, *submodules}
            else:
                theirs.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                (ours if alias.name.startswith("core") else theirs).add(
                    alias.name if alias.name.startswith("core") else alias.name.split(".")[0]
                )
    return ours - {"core"}, theirs


GRAPH = {name: imports(path, set(modules())) for name, path in modules().items() if name != "core"}


def test_every_module_has_a_layer() -> None:
    """A module's folder is its layer: a new folder is a new layer, placed in `core.ORDER` on purpose."""
    assert {m: layer_of(m) for m in GRAPH if layer_of(m) not in ORDER} == {}
    assert len([m for m in GRAPH if m.count(".") == 1 and not (ROOT / m.replace(".", "/")).is_dir()]) <= 12


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down(module: str) -> None:
    mine = ORDER.index(layer_of(module))
    upward = [dep for dep in GRAPH[module][0] if ORDER.index(layer_of(dep)) > mine]
    assert upward == [], f"{module} ({layer_of(module)}) imports from a higher layer: {upward}"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if layer_of(m) in PURE))
def test_pure_modules_touch_nothing_outside(module: str) -> None:
    assert GRAPH[module][1].isdisjoint(OUTSIDE_WORLD), f"{module} imports {GRAPH[module][1] & set(OUTSIDE_WORLD)}"


def test_no_import_circles() -> None:
    """Tarjan's strongly connected components over the run-time imports; a package's own __init__
    importing its children is how packages work, not a circle."""
    edges = {m: {d for d in deps if d in GRAPH and not d.startswith(m + ".") and d != m} for m, (deps, _) in GRAPH.items()}
    index, low, stack, on_stack, circles, counter = {}, {}, [], set(), [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert circles == []


def test_the_dashboard_reaches_core_only_through_the_runtime_and_shared_vocabulary() -> None:
    """Pages and ui helpers import the runtime, the launchers (startup, and workspaces, which makes a workspace in a
    child process) and pure names, never a service (store, MLflow, registry)."""
    allowed = {
        "core.runtime",
        "core.startup",
        "core.workspaces",
        *(m for m in GRAPH if layer_of(m) in PURE),
    }  # pure: names and figures, no service
    reached = {}
    for path in [*(ROOT / "app_pages").glob("*.py"), *(ROOT / "ui").glob("*.py"), ROOT / "app.py"]:
        deps, _ = imports(path, set(modules()))
        outside = sorted(d for d in deps if not any(d == a or d.startswith(a + ".") for a in allowed))
        if outside:
            reached[path.name] = outside
    assert reached == {}


SERVICES = frozenset({"store", "registry", "tracker", "predictor", "scheduler", "notifier", "pipeline", "faults", "read"})
DOORS = [*(ROOT / "app_pages").glob("*.py"), *(ROOT / "ui").glob("*.py"), ROOT / "app.py", *(ROOT / "core" / "api").rglob("*.py"),
         *(ROOT / "core" / "replica").rglob("*.py"), *(ROOT / "orchestration").glob("*.py")]  # fmt: skip


def test_the_doors_reach_the_use_cases_never_the_services() -> None:
    """Pages, the ui helpers, the API and its metrics, the replica and the orchestration flow call the runtime's use
    cases (`rt.models.train`, `rt.insights.cycles`); none reaches into its store, registry, tracker, predictor,
    scheduler or notifier, nor reads by name (the runtime's `read("cycles")`)."""
    reached = []
    for path in DOORS:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in SERVICES and _is_runtime(node.value):
                reached.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert reached == []


def test_the_runtime_only_wires() -> None:
    """Its use cases hold the logic; the runtime builds, wires and closes them."""
    assert len((ROOT / "core" / "runtime.py").read_text().splitlines()) <= 200


def _is_runtime(node: ast.AST) -> bool:
    """`rt`, `self.rt`, `runtime()` or `get_runtime()`: the names the doors give the runtime."""
    if isinstance(node, ast.Name):
        return node.id in ("rt", "runtime")
    if isinstance(node, ast.Attribute):
        return node.attr == "rt"
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("runtime", "get_runtime", "_runtime")


def test_tests_mirror_the_source_folders_and_the_pure_ones_build_no_runtime() -> None:
    """Each test folder is a layer's name, and the pure layers' tests import neither the runtime, MLflow nor the
    store, so they run alone in seconds: a fixture or helper that drags the runtime in shows here first."""
    folders = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    sources = {p.name for p in (ROOT / "core").iterdir() if (p / "__init__.py").exists()}
    assert folders - {"core", "ui", "e2e", "deploy"} <= sources, folders - sources
    assert not list((ROOT / "tests").glob("test_*.py")), "a test module outside a layer's folder"
    pure = sorted(
        f"tests.{layer}.{p.stem}" for layer in PURE if (ROOT / "tests" / layer).is_dir() for p in (ROOT / "tests" / layer).glob("[tc]*.py")
    )  # fmt: skip  (tests and conftest)
    pure.insert(0, "tests.conftest")  # what pytest imports first for every test
    assert pure
    probe = "import sys, importlib\n" + "".join(f"importlib.import_module({name!r})\n" for name in pure)
    probe += "print(sorted(m for m in ('core.runtime', 'mlflow', 'duckdb', 'core.store') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", done.stdout


def test_one_module_imports_mlflow() -> None:
    """MLflow's fluent API keeps process-wide URIs and its import costs seconds: one module holds it, with explicit URIs."""
    importers = sorted(name for name, (_ours, theirs) in GRAPH.items() if "mlflow" in theirs)
    assert importers == ["core.tracking"]
    source = (ROOT / "core" / "tracking.py").read_text()
    assert "set_tracking_uri(" not in source and "set_registry_uri(" not in source
