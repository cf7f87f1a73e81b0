"""One window per data directory: the first launch listens on a local socket named after the
user and the directory; a later launch asks it to come to the front and exits. Light on purpose
(QtCore and QtNetwork only): `qtqueue gui` asks before it imports the window and the engine, so
a second launch answers in a fraction of the time a cold start takes."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

logger = logging.getLogger(__name__)

__all__ = ["SingleInstance", "ask_to_raise", "instance_name"]


def instance_name(data_dir: Path) -> str:
    """The local server name of the window that owns `data_dir` (per user and directory)."""
    digest = hashlib.sha256(f"{os.getuid()}:{data_dir}".encode()).hexdigest()[:20]
    return f"qtqueue-{digest}"


class SingleInstance(QObject):
    """Listens for later launches on the same data directory; each asks to be raised."""

    raiseRequested = Signal()

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = instance_name(data_dir)
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_connection)

    def listen(self) -> bool:
        """Take the name; False if another live instance holds it (it was asked to raise its
        window). Asks first: with access options, Qt's listen() replaces a live socket."""
        if ask_to_raise(self.name):
            return False
        if self._server.listen(self.name):
            return True
        QLocalServer.removeServer(self.name)  # left behind by a crash
        return self._server.listen(self.name)

    def close(self) -> None:
        self._server.close()

    def _on_connection(self) -> None:
        while (sock := self._server.nextPendingConnection()) is not None:
            sock.readyRead.connect(functools.partial(self._on_message, sock))
            sock.disconnected.connect(sock.deleteLater)

    def _on_message(self, sock: QLocalSocket) -> None:
        data = bytes(sock.readAll().data())
        if b"raise" in data:
            logger.info("another launch asked this window to come to the front")
            sock.write(b"ok\n")
            sock.flush()
            self.raiseRequested.emit()


def ask_to_raise(name: str, timeout_ms: int = 2000) -> bool:
    """Ask the instance listening on `name` to raise its window; False if none answers."""
    sock = QLocalSocket()
    sock.connectToServer(name)
    if not sock.waitForConnected(timeout_ms):
        return False
    sock.write(b"raise\n")
    sock.waitForBytesWritten(timeout_ms)
    answered = sock.waitForReadyRead(timeout_ms)
    sock.disconnectFromServer()
    return answered
