"""The demo's web app on a loopback port, in a background thread, from the very start.

Binding first means a port already in use is reported before any work is done, and the
simulation's callbacks and replies reach the app over real HTTP with real signatures.
"""

from __future__ import annotations

import errno
import socket
import threading
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from nudge.errors import ConfigError

HOST = "127.0.0.1"


class BackgroundServer:
    """A threaded WSGI server for one app, started and stopped explicitly."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._app: Flask | None = None

    def bind(self) -> int:
        """Take the port now (0: any free one) and return it; the app is attached later."""
        # Bound here rather than by werkzeug, which prints and exits on a port in use.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((HOST, self.port))
            listener.listen(128)
        except OSError as error:
            listener.close()
            raise ConfigError(_bind_problem(self.port, error)) from None
        with listener:
            self._server = make_server(
                HOST, self.port, self._dispatch, threaded=True, fd=listener.fileno()
            )
        self.port = self._server.server_address[1]
        return self.port

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, app: Flask) -> None:
        assert self._server is not None, "bind() first"
        self._app = app
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="demo-web", daemon=True
        )
        self._thread.start()

    def wait(self) -> None:
        """Serve until interrupted (Ctrl-C)."""
        if self._thread is not None:
            self._thread.join()

    def stop(self) -> None:
        if self._server is None:
            return
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
        self._server = self._thread = None

    def _dispatch(self, environ: Any, start_response: Any) -> Any:
        assert self._app is not None
        return self._app(environ, start_response)


def _bind_problem(port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {HOST} is already in use (another `nudge demo` or web server?): "
            "stop it, or choose another port with --port"
        )
    if error.errno == errno.EACCES:
        return f"port {port} on {HOST} needs special permission: choose one above 1023 with --port"
    return f"cannot listen on {HOST}:{port}: {error.strerror or error}"
