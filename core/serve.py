"""A serving replica (`python -m core.serve`, `make serve`): /predict, /predict/batch, /health and /metrics for the
registry's @champion, followed as it moves, with every prediction forwarded to the workbench (`core.replica`)."""

from __future__ import annotations

import logging

from core.api.server import check_binding, freeze_startup_heap
from core.config import Settings, SettingsError


def main() -> None:
    import uvicorn

    from core.replica.app import replica_app
    from core.replica.wiring import Replica

    try:
        settings = Settings.from_env()
        check_binding(settings)
        logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        replica = Replica(settings)
    except SettingsError as exc:
        raise SystemExit(f"ia-continu replica: {exc}") from None
    freeze_startup_heap()
    try:
        uvicorn.run(replica_app(replica), host=settings.api_host, port=settings.api_port, log_level=settings.log_level.lower())
    finally:
        replica.close()


if __name__ == "__main__":
    main()
