"""`make run`: start building the runtime, then serve the dashboard in the same process.

Streamlit runs app.py only when a browser connects, so a runtime built there makes the first
visitor wait for MLflow's import, the journal replay and the starter training. Started here,
that work overlaps the server's own start and the browser's connection, and the pages show
its steps (ui.state.runtime) until it is done. Arguments are passed on to `streamlit run`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from streamlit.web import cli

from core.startup import start_in_background

APP = Path(__file__).resolve().parent.parent / "app.py"


def main(argv: list[str]) -> None:
    start_in_background()
    sys.argv = ["streamlit", "run", str(APP), *argv]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main(sys.argv[1:])
