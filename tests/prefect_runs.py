"""Run by test_orchestration.py with the orchestration venv's Python (Prefect is not in the app's): the flow against a
real workbench inside Prefect's local test harness, printing each run's final state as one JSON line."""

from __future__ import annotations

import json
import sys

from prefect.testing.utilities import prefect_test_harness

from orchestration.flow import monitoring_cycle


def main(api_url: str, token: str) -> None:
    """One flow run for each line read from stdin, so the test can change the workbench between runs."""
    with prefect_test_harness(server_startup_timeout=180):
        print(json.dumps({"ready": True}), flush=True)
        for _line in sys.stdin:
            state = monitoring_cycle(api_url=api_url, token=token, retries=0, return_state=True)
            result = state.result(raise_on_failure=False)
            print(json.dumps({"state": state.type.value, "message": state.message,
                              "result": result if isinstance(result, dict) else str(result)}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
