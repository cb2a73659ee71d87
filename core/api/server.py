"""Running the API: beside the dashboard on a thread (`ApiServer`, started by `core.startup`), or
headless (`main`, `python -m core.api`). Both refuse a network address without a token."""

from __future__ import annotations

import gc
import ipaddress
import logging
import threading
from typing import TYPE_CHECKING

from core.api.app import serving_app
from core.config import Settings, SettingsError
from core.errors import WorkspaceError

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger(__name__)


def check_binding(settings: Settings) -> None:
    """Only loopback without a token: anyone who can reach the port could otherwise retrain or promote."""
    if settings.api_token:
        return
    host = settings.api_host
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SettingsError(
            f"API_HOST={host!r}: the API would accept calls from the network with no authentication. "
            "Set IA_API_TOKEN (every mutating call then needs 'Authorization: Bearer <token>'), or bind 127.0.0.1."
        )


class ApiServer:
    """Uvicorn on a thread, for the API beside the dashboard; stopped with the runtime."""

    def __init__(self, rt: Runtime) -> None:
        import uvicorn

        check_binding(rt.settings)
        config = uvicorn.Config(serving_app(rt), host=rt.settings.api_host, port=rt.settings.api_port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.address = f"http://{rt.settings.api_host}:{rt.settings.api_port}"
        self.thread = threading.Thread(target=self._serve, name="ia-continu-api", daemon=True)
        self.error: str | None = None
        self.thread.start()

    def _serve(self) -> None:
        try:
            self.server.run()
        except BaseException as exc:  # a port in use ends uvicorn with SystemExit
            self.error = f"the API could not start on {self.address}: {exc}"
            log.error(self.error)

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def freeze_startup_heap() -> None:
    """Take what starting made (MLflow, scikit-learn, pandas and the model: millions of objects that live as long
    as the process) out of the garbage collector's reach. A full collection otherwise walks them all, a pause of
    100-300 ms that a server under load answers with its p99; collections then walk only what requests make."""
    gc.collect()
    gc.freeze()


def main() -> None:
    """Headless: the API and the loop, no UI (`python -m core.api`, `make api`)."""
    import uvicorn

    from core.runtime import close_runtime, get_runtime

    try:
        settings = Settings.from_env()
        check_binding(settings)
        rt = get_runtime(settings)
    except (SettingsError, WorkspaceError) as exc:
        raise SystemExit(f"ia-continu: {exc}") from None
    freeze_startup_heap()
    try:
        uvicorn.run(serving_app(rt), host=settings.api_host, port=settings.api_port, log_level=settings.log_level.lower())
    finally:
        close_runtime()
