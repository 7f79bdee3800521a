"""One window per user: a second `playground FILE...` hands its files to the running window.

The first window listens on a per-user local socket (`QLocalServer`); a later start connects,
sends its files (absolute paths, one JSON line) and exits once the window has them. The
window opens them the way it opens files named at start (`MainWindow.open_at_start`) and
comes to the front. The name is per user and per `PLAYGROUND_HOME` (the tests), each an
instance of its own. Start-up pays nothing for it: with no socket file there is nobody to ask,
and the window starts listening just after its first paint.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os

import sys

from PySide6.QtCore import QDir, QObject, Signal

log = logging.getLogger(__name__)
TIMEOUT_MS = 3000


def server_name() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    where = os.path.abspath(os.environ.get("PLAYGROUND_HOME", ""))
    return "model-playground-" + hashlib.sha256(f"{user}\0{where}".encode()).hexdigest()[:16]


def absolute(paths: list[str]) -> list[str]:
    """Paths as the running window must see them: its working folder is not ours. URLs stay as given."""
    return [p if "://" in p else os.path.abspath(p) for p in paths]


def hand_off(paths: list[str], name: str | None = None) -> bool:
    """Give `paths` to the window already running; False when there is none (or it does not answer)."""
    name = name or server_name()
    if sys.platform != "win32" and not os.path.exists(os.path.join(QDir.tempPath(), name)):
        return False  # no socket, no window (and QtNetwork is not even imported)
    from PySide6.QtNetwork import QLocalSocket

    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(TIMEOUT_MS):
        return False
    socket.write((json.dumps({"paths": absolute(paths)}) + "\n").encode())
    socket.waitForBytesWritten(TIMEOUT_MS)  # (False when flush() already wrote it all: not an error)
    reply = ""
    while "\n" not in reply and socket.waitForReadyRead(TIMEOUT_MS):
        reply += bytes(socket.readAll()).decode(errors="replace")
    socket.disconnectFromServer()
    return reply.strip() == "ok"


class InstanceServer(QObject):
    """Listens for later starts; `paths_received` carries each one's files (maybe none: just show)."""

    paths_received = Signal(list)

    def __init__(self, name: str | None = None, parent: QObject | None = None):
        from PySide6.QtNetwork import QLocalServer

        super().__init__(parent)
        self.name = name or server_name()
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)  # this user only
        self._server.newConnection.connect(self._on_connection)

    def listen(self) -> bool:
        if self._server.listen(self.name):
            return True
        # A socket file left by a window that crashed: nobody answers on it, so take it over.
        self._server.removeServer(self.name)
        listening = self._server.listen(self.name)
        if not listening:
            log.warning("Files from a second start cannot reach this window: %s", self._server.errorString())
        return listening

    def close(self) -> None:
        self._server.close()

    def _on_connection(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.setParent(self)
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)

    def _read(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            return
        line = bytes(socket.readLine()).decode(errors="replace")
        try:
            paths = [str(p) for p in json.loads(line).get("paths", [])]
        except (ValueError, AttributeError, TypeError):
            log.warning("A second start sent something that is not a list of files: %r", line[:200])
            socket.write(b"error\n")
            return
        socket.write(b"ok\n")
        socket.flush()
        log.info("A second start handed over %d file(s)", len(paths))
        self.paths_received.emit(paths)
