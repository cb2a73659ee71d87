"""Start from your own data, with the workspaces in a folder of their own (IA_WORKSPACES_DIR): a name taken is refused
beside the form at once and changes nothing; a refusal while creating stays in view; the success names the folder the
workspace was made in and a command that serves that folder. Through Streamlit's AppTest, on a real workspace."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import workspaces
from core.config import PROJECT_ROOT
from tests.fixtures import make_settings
from tests.ui.serving import serving

APP = str(PROJECT_ROOT / "app.py")


@pytest.fixture
def elsewhere(tmp_path: Path, mlflow_template: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The demo in a temp folder, the named workspaces in another (IA_WORKSPACES_DIR), not under data/workspaces."""
    data, root = tmp_path / "data", tmp_path / "elsewhere" / "workspaces"
    make_settings(data, mlflow_template)
    for _ in serving(monkeypatch, root, data_dir=data):
        yield root.resolve()


def the_form(name: str) -> AppTest:
    """The Data page's own-data form on the generated table, its target chosen and the workspace named `name`."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("app_pages/data.py").run()
    next(b for b in at.button if b.label == "Use a generated mixed table").click().run()
    at.selectbox(key="own_target").set_value("outcome").run()
    at.text_input(key="own_name").set_value(name).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def create_button(at: AppTest):
    return next(b for b in at.button if b.label == "Create the workspace")


def served_folder(command: str) -> Path:
    """The data folder the command's `make run` would serve: its variables, then make's own (the Makefile exports
    WORKSPACE as IA_WORKSPACE), read by Settings, in a shell with nothing else of ours set."""
    assert command.endswith(" WORKSPACE=subs") and " make run " in f" {command}", command
    prefix = command[: command.index("make run")]
    probe = "from core.config import Settings; print(Settings.from_env().data_dir)"
    shell = f"{prefix} make --no-print-directory --eval 'probe: ; @$(PY) -c \"{probe}\"' probe WORKSPACE=subs"
    clean = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    done = subprocess.run(["sh", "-c", shell], cwd=PROJECT_ROOT, env=clean, capture_output=True, text=True, timeout=120, check=True)
    return Path(done.stdout.strip().splitlines()[-1])


def test_the_success_and_the_help_name_the_real_folder_and_a_command_that_serves_it(elsewhere: Path) -> None:
    at = the_form("subs")
    assert str(elsewhere / "<name>") in at.text_input(key="own_name").help and "data/workspaces" not in at.text_input(key="own_name").help
    create_button(at).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (said,) = [s.value for s in at.success if "Workspace subs created" in s.value]
    assert f"created in {elsewhere / 'subs'}:" in said, said
    command = said.split("Open it with: ", 1)[1]
    assert command == f"IA_WORKSPACES_DIR={shlex.quote(str(elsewhere))} make run WORKSPACE=subs"
    assert served_folder(command) == elsewhere / "subs"  # the command, run as written, serves the folder just made
    assert workspaces.list_workspaces(elsewhere) == ["subs"]


def test_a_name_taken_is_refused_beside_the_form_at_once_naming_the_field_and_the_workspace_and_nothing_is_created(
    elsewhere: Path,
) -> None:
    taken = elsewhere / "subs"
    taken.mkdir(parents=True)
    (taken / "notes.txt").write_text("a workspace of someone's")
    before = sorted(p.name for p in elsewhere.iterdir())
    at = the_form("subs")
    (refused,) = [e.value for e in at.error]
    assert refused == f"name: a workspace named 'subs' exists already ({taken}): choose another name"
    assert create_button(at).disabled  # nothing to click that could only fail
    assert not at.status and not at.success
    assert sorted(p.name for p in elsewhere.iterdir()) == before and [p.name for p in taken.iterdir()] == ["notes.txt"]
    at.text_input(key="own_name").set_value("subs-2").run()  # another name: the refusal goes, the button comes back
    assert not at.error and not create_button(at).disabled


def test_a_refusal_while_creating_stays_open_with_its_reason_and_nothing_is_created(elsewhere: Path) -> None:
    at = the_form("racing")
    assert not at.error and not create_button(at).disabled
    with workspaces.claimed(elsewhere, "racing"):  # another request is creating `racing`: the child is refused
        create_button(at).click().run()
    (status,) = at.status
    assert status.label == "Nothing created" and status.state == "error"
    assert status.proto.expanded, "the refusal is shown, not folded away in a closed box"
    (refused,) = [e.value for e in status.error]
    assert refused == "name: a workspace named 'racing' is being created by another request: choose another name"
    assert not at.success and not (elsewhere / "racing").exists()
