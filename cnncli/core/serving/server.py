"""uvicorn on a socket bound here, so the URL printed is the one listening (port 0: any free port).

    stopped_by = run_server(app, config, ready)   # ready(url) once the socket listens; blocks until a signal

SIGINT and SIGTERM stop it gracefully: uvicorn stops accepting, lets the requests in flight finish
(up to config.graceful_seconds), then the app's lifespan ends the inference thread. The signal that
stopped it is returned, so the CLI exits 130 or 143 as `cnn train` does, rather than letting uvicorn
raise the signal again once the handlers are restored (which would kill the process by SIGTERM).
"""

from __future__ import annotations

import contextlib
import signal
import socket
from collections.abc import Callable, Iterator

import uvicorn
from starlette.types import ASGIApp

from cnncli.core.errors import UsageError
from cnncli.core.serving.config import ServeConfig

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
BACKLOG = 128  # connections the kernel holds before uvicorn accepts them


class _Server(uvicorn.Server):
    stopped_by: int | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: object) -> None:
        if self.stopped_by is None:
            self.stopped_by = sig
        super().handle_exit(sig, frame)  # type: ignore[arg-type]  # a second Ctrl-C: stop at once


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise UsageError(
            f"cannot listen on {host}:{port}: {error.strerror}", "choose another --port (0: any free one)"
        ) from None
    sock.listen(BACKLOG)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def run_server(app: ASGIApp, config: ServeConfig, ready: Callable[[str], None]) -> int | None:
    """Serve until SIGINT or SIGTERM; the signal that stopped it (None: it stopped by itself)."""
    sock = bind(config.host, config.port)
    settings = uvicorn.Config(
        app,
        lifespan="on",
        log_level="warning",  # the app logs each request itself, in one line
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=config.graceful_seconds,
        # a bound on connections, past the one on requests: uvicorn answers 503 to more than this
        limit_concurrency=8 * config.max_in_flight + 64,
    )
    server = _Server(settings)
    ready(url_of(sock))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return server.stopped_by
