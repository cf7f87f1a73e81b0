"""The saved cluster connection: the settings dialog's "Cluster" page and File › Open cluster.

The page edits what the window needs to open a cluster (`qtqueue --redis URL gui`):

- the Redis URL (`cluster/url` in QSettings), which names the server only: one with a password
  in it is refused with CLUSTER_REDIS_PASSWORD_IN_URL's text (`cluster.connection.check_url`);
- its password, saved to the OS keyring as the credential `redis:HOST:PORT` (the entry
  `cluster.connection` reads when the server asks for one), shown as dots, never in QSettings;
  emptied, the entry is removed;
- a CA file for `rediss://` (`cluster/caFile`), added to the URL as `ssl_ca_certs`;
- "Test connection": connects with what is typed (the password as typed, else the keyring's)
  and says "connected — N workers", or the coded error.

The command line never uses this connection (a saved cluster must not silently redirect
`qtqueue add`): it stays local unless `--redis` or $QTQUEUE_REDIS_URL names one. The window
offers File › Open cluster, which starts `qtqueue --redis URL gui` with the saved URL.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from PySide6.QtCore import Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QWidget,
)

from qtqueue.cluster.connection import (
    REDIS_AUTH_FAILED,
    check_url,
    connect,
    where,
)
from qtqueue.config import qtqueue_command
from qtqueue.core.errors import QueueError
from qtqueue.engine.credentials import KeyringVault
from qtqueue.ui.app_settings import AppSettings, connection_url
from qtqueue.ui.engine_bridge import BackgroundTasks

logger = logging.getLogger(__name__)

#: What the result label says while a test runs.
TESTING = "testing…"


def keyring_name(url: str) -> str:
    """The keyring credential that holds the password of the server `url` names."""
    return f"redis:{where(url)}"


def probe(url: str, password: str | None) -> str:
    """Connect to the cluster at `url` (with `password`, else the keyring's) and say how many
    workers it has: "connected — N workers". QueueError: the connection's (coded)."""
    from rq.worker import Worker

    try:
        conn = connect(url, password=password) if password else connect(url)
    except QueueError as exc:
        if password and exc.code.value == REDIS_AUTH_FAILED:
            raise QueueError(
                REDIS_AUTH_FAILED,
                f"the cluster's Redis at {where(url)} refused the password typed here",
                server=where(url),
            ) from None
        raise
    try:
        count = Worker.count(connection=conn)
    finally:
        conn.close()
    return f"connected — {count} worker{'' if count == 1 else 's'}"


class ClusterPage(QGroupBox):
    """The settings dialog's "Cluster" page (see the module's notes)."""

    def __init__(
        self,
        settings: AppSettings,
        parent: QWidget | None = None,
        vault: KeyringVault | None = None,
    ) -> None:
        super().__init__("Cluster", parent)
        self.setObjectName("clusterSettingsPage")
        self.settings = settings
        self.vault = vault or KeyringVault()
        self._background = BackgroundTasks()
        #: The keyring's credential for the saved URL's server, and the password it held, when
        #: the page was filled (or last saved).
        self._stored_name = ""
        self._stored_password = ""
        form = QFormLayout(self)
        self.url = QLineEdit(self)
        self.url.setObjectName("clusterUrl")
        self.url.setPlaceholderText("redis://host:6379/0 (empty: this machine's engine)")
        self.password = QLineEdit(self)
        self.password.setObjectName("clusterPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("kept in the OS keyring, never in the settings file")
        self.caFile = QLineEdit(self)
        self.caFile.setObjectName("clusterCaFile")
        self.caFile.setPlaceholderText("for rediss:// (TLS): the CA's PEM file")
        browse = QPushButton("Browse…", self)
        browse.setObjectName("clusterCaBrowse")
        browse.clicked.connect(self._browse)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.caFile, 1)
        ca_row.addWidget(browse)
        self.testButton = QPushButton("Test connection", self)
        self.testButton.setObjectName("clusterTest")
        self.testButton.clicked.connect(self.test_connection)
        self.result = QLabel(self)
        self.result.setObjectName("clusterTestResult")
        self.result.setWordWrap(True)
        test_row = QHBoxLayout()
        test_row.addWidget(self.testButton)
        test_row.addWidget(self.result, 1)
        form.addRow("Redis URL:", self.url)
        form.addRow("Password:", self.password)
        form.addRow("CA file:", ca_row)
        form.addRow("", test_row)
        note = QLabel(
            "File › Open cluster opens a window on it; the command line stays on this machine "
            "unless given --redis.",
            self,
        )
        note.setWordWrap(True)
        note.setEnabled(False)
        form.addRow("", note)
        #: The running test (None before the first).
        self.testing: asyncio.Task[None] | None = None
        self.load()

    # ------------------------------------------------------------------ values

    def load(self) -> None:
        """Fill the fields from QSettings and the keyring."""
        self.url.setText(self.settings.cluster_url)
        self.caFile.setText(self.settings.cluster_ca_file)
        self._stored_password, self._stored_name = "", ""
        if self.settings.cluster_url and self.problem() is None:
            self._stored_name = keyring_name(self.url.text())
            try:
                self._stored_password = self.vault.get(self._stored_name) or ""
            except QueueError as exc:
                logger.info("no Redis password from the keyring: %s", exc)
        self.password.setText(self._stored_password)

    def problem(self) -> str | None:
        """Why the fields cannot be saved (None: they can): the URL's coded error's text."""
        url = self.url.text().strip()
        if not url:
            return None
        try:
            check_url(connection_url(url, self.caFile.text()))
        except QueueError as exc:
            return exc.message
        if self.caFile.text().strip() and urlsplit(url).scheme != "rediss":
            return "a CA file is for a rediss:// (TLS) URL"
        return None

    def save(self) -> None:
        """Save the URL and CA file in QSettings and the password in the keyring (for the
        URL's server; an emptied one is removed). ValueError when `problem()` says why not."""
        why = self.problem()
        if why is not None:
            raise ValueError(why)
        url = self.url.text().strip()
        self.settings.save_cluster(url, self.caFile.text().strip())
        password = self.password.text()
        if not url:
            return
        name = keyring_name(url)
        if password == self._stored_password and name == self._stored_name:
            return
        if password:
            self.vault.set(name, password)
        elif name == self._stored_name:
            self.vault.delete(name)
        self._stored_password, self._stored_name = password, name

    # ------------------------------------------------------------------ actions

    @Slot()
    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "The CA of the cluster's Redis", "", "PEM files (*.pem *.crt);;All files (*)"
        )
        if path:
            self.caFile.setText(path)

    @Slot()
    def test_connection(self) -> None:
        """Connect with what is typed, in the background; the result label says how it went."""
        why = self.problem()
        url = self.url.text().strip()
        if why is not None or not url:
            self.result.setText(why or "give the Redis URL first")
            return
        self.result.setText(TESTING)
        self.testButton.setEnabled(False)
        full = connection_url(url, self.caFile.text())
        self.testing = self._background.spawn(
            self._test(full, self.password.text() or None), "test the cluster connection"
        )

    async def _test(self, url: str, password: str | None) -> None:
        try:
            said = await asyncio.to_thread(probe, url, password)
        except QueueError as exc:
            said = f"{exc.code.value}: {exc.message}"
        finally:
            self.testButton.setEnabled(True)
        self.result.setText(said)


def open_cluster_command(url: str) -> list[str]:
    """The command that opens a window on the cluster at `url`."""
    return [*qtqueue_command(), "--redis", url, "gui"]


def _start(argv: Sequence[str]) -> Any:
    return subprocess.Popen(list(argv), start_new_session=True)  # a window of its own


def install_open_cluster(
    window: QMainWindow,
    settings: AppSettings,
    start: Callable[[Sequence[str]], Any] | None = None,
) -> QAction:
    """File › Open cluster: a window on the saved cluster (MainWindow's one call); disabled,
    saying why, while none is saved."""
    action = QAction("Open &cluster", window)
    action.setObjectName("actionOpenCluster")
    menu = window.form.menuFile  # type: ignore[attr-defined]
    menu.insertAction(menu.actions()[0] if menu.actions() else None, action)

    def refresh() -> None:
        url = settings.cluster_connection_url()
        action.setEnabled(url is not None)
        action.setStatusTip(
            f"Open a window on the cluster at {where(url)}" if url
            else "Save a cluster's Redis URL in Settings › Cluster first"
        )  # fmt: skip

    def open_it() -> None:
        url = settings.cluster_connection_url()
        if url is not None:
            logger.info("opening a window on the cluster at %s", where(url))
            (start or _start)(open_cluster_command(url))

    menu.aboutToShow.connect(refresh)
    action.triggered.connect(open_it)
    refresh()
    return action
