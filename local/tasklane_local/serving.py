"""A server the local stack runs on a daemon thread: the gateway, moto, the dev JWKS."""

from __future__ import annotations

import threading
from typing import Any, Protocol


class Serving(Protocol):
    """socketserver's loop, which http.server's and werkzeug's servers both have."""

    server_address: Any

    def serve_forever(self, poll_interval: float = ...) -> None: ...

    def shutdown(self) -> None: ...

    def server_close(self) -> None: ...


# Listening on every interface (`--aws-host 0.0.0.0`): not an address to connect to.
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


class ServingThread:
    def __init__(self, server: Serving, name: str) -> None:
        self._server = server
        # A short poll interval: stop() waits up to one interval for the loop to notice.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True
        )

    @property
    def host_and_port(self) -> tuple[str, int]:
        """Where this process reaches the server: loopback when it listens on every interface."""
        host, port = self._server.server_address[:2]
        return ("127.0.0.1" if host in WILDCARD_HOSTS else str(host)), int(port)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
