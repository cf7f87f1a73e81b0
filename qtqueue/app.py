"""The desktop application's composition root: engine, local API, bridge and window.

`create_main_window()` is the in-process entry (tests and embedders await it under a qasync
loop): it starts the engine, or attaches the window to the engine another process runs on the
data directory (`qtqueue run`, another window) through the local API. `qtqueue` / `qtqueue
gui` start in `qtqueue.launch`, which shows the window's frame before this module is even
imported and then hands it to `run()`: one qasync loop runs Qt and the engine together, and
`--screenshot` renders the window to a PNG.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings, QTimer, SignalInstance
from PySide6.QtWidgets import QWidget

from qtqueue.api.local_settings import LocalSettings
from qtqueue.api.port import EnginePort, EngineSettingsPort
from qtqueue.api.remote_engine import attach as attach_engine
from qtqueue.api.server import ApiServer
from qtqueue.config import resolve_data_dir
from qtqueue.core.errors import QueueError
from qtqueue.engine.queue import TaskQueue
from qtqueue.engine.restore import restore_backup
from qtqueue.executors import default_registry
from qtqueue.settings import apply_settings, family_settings, overlay, save_settings, saved_settings
from qtqueue.ui.app_settings import AppSettings
from qtqueue.ui.backups_dialog import as_queue_error, show_coded_error
from qtqueue.ui.cluster_limits import limit_to_cluster
from qtqueue.ui.damaged_store_dialog import StoreChoice, ask_about_damaged_store
from qtqueue.ui.display import process_age_s
from qtqueue.ui.engine_bridge import EngineBridge
from qtqueue.ui.engine_link import show_web_api
from qtqueue.ui.help_menu import HelpMenu
from qtqueue.ui.main_window import SETTINGS_APPLICATION, SETTINGS_ORGANIZATION, MainWindow
from qtqueue.ui.single_instance import SingleInstance
from qtqueue.ui.theme import KEY_THEME, apply_appearance, restyle
from qtqueue.ui.tray import install_tray

if TYPE_CHECKING:
    from qtqueue.api.http.server import HttpServer

logger = logging.getLogger(__name__)

#: How long `--screenshot` waits for the table to show the stored tasks.
SCREENSHOT_TIMEOUT_S = 60.0


async def create_main_window(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    settings: QSettings | None = None,
    attach: bool = True,
    shown: Callable[[MainWindow], object] | None = None,
    frame: MainWindow | None = None,
    redis: str | None = None,
    **queue_kwargs: Any,
) -> MainWindow:
    """Start a dispatching `TaskQueue` on `data_dir` and the local API (so the CLI reaches
    this engine), then build the window and load every task. `await window.shutdown()` (or
    closing the window) stops the API server and the queue.

    When an engine already runs on `data_dir` (`qtqueue run`, or another process's window:
    its engine.json names a live process that answers) and `attach` holds, the window attaches
    to it over the local API instead (`qtqueue.api.remote_engine.RemoteEngine`); closing
    that window leaves the engine running.

    `frame`: a window shown before the engine started (`qtqueue.launch`), composed here
    unless it already was (then a new window is built).

    `redis`: a cluster's Redis URL: the window opens that cluster instead
    (`qtqueue.api.cluster_port`); no engine starts and `data_dir` is not locked.

    `settings` is where the window keeps its layout and the application settings (default:
    the user's qtqueue settings); `queue_kwargs` go to `TaskQueue`. Engine settings the user
    saved (`AppSettings`) override them, and the saved shutdown policy is the one `queue.close`
    gets when the window shuts down.
    """
    settings = settings or QSettings(SETTINGS_ORGANIZATION, SETTINGS_APPLICATION)
    if redis:
        from qtqueue.api.cluster_port import open_cluster  # rq and redis: only here
        from qtqueue.cluster.workers_source import ClusterWorkersSource
        from qtqueue.ui.workers_view import WorkersView

        registry = queue_kwargs.get("registry") or default_registry()
        port = await open_cluster(redis, registry, resolve_data_dir(data_dir))
        workers = ClusterWorkersSource(redis)
        window = await _loaded(
            port, port.settings, [port.close, workers.close], settings, shown, frame
        )
        limit_to_cluster(window)  # what RQ cannot do: off, saying why
        WorkersView.install(window, workers)  # the Workers tab, read while shown
        return window
    if attach:
        registry = queue_kwargs.get("registry") or default_registry()
        remote = await attach_engine(resolve_data_dir(data_dir), registry)
        if remote is not None:
            logger.info("attached to the engine of PID %d on %s", remote.engine_pid, data_dir)
            # Closing the window stops following the engine; the engine keeps running.
            return await _loaded(
                remote, remote.settings, [remote.close], settings, shown, frame
            )
    queue_kwargs.setdefault("dispatch", True)
    app_settings = AppSettings(settings)
    queue = TaskQueue(None if data_dir is None else Path(data_dir), **queue_kwargs)

    async def close_queue() -> None:
        # Read at quit time: the policy may have been changed in the settings dialog.
        await queue.close(app_settings.shutdown_policy_if_saved())

    await start_engine(queue, app_settings)
    server = ApiServer(queue)
    try:
        await server.start()
    except BaseException:
        await queue.close()
        raise
    web, web_error = await _serve_web_api(queue, server)
    closers: list[Callable[[], Awaitable[object]]] = [server.stop, close_queue]
    if web is not None:
        closers.insert(0, web.stop)
    window = await _loaded(queue, LocalSettings(queue), closers, settings, shown, frame)
    show_web_api(window, web.url if web is not None else None, web_error)
    return window


async def _serve_web_api(
    queue: TaskQueue, server: ApiServer
) -> tuple[HttpServer | None, QueueError | None]:
    """The web API (REST, admin page, metrics) where the engine's settings ask for it,
    announced in engine.json; (None, None) when they ask for none. A failure to serve is
    returned, not raised: the window opens and says why."""
    if not queue.web_api.get("http_address", "").strip():
        return None, None  # none asked for: the web side (aiohttp's server) is not imported
    from qtqueue.api.http.server import from_settings

    try:
        web = from_settings(queue)
        if web is not None:
            await web.start()
            server.announce(http=web.url)
    except QueueError as exc:
        logger.warning("the web API is not served: %s", exc)
        return None, exc
    return web, None


async def start_engine(queue: TaskQueue, app_settings: AppSettings) -> None:
    """Start `queue` with the saved engine settings applied before its first task: the
    store's, and those an earlier version saved in `QSettings`, which are then moved into the
    store (a value the store already holds wins) and removed from `QSettings`."""
    models = family_settings(queue.registry)
    legacy = app_settings.legacy_settings(models)
    settings = overlay(legacy, saved_settings(queue.data_dir, models))
    apply_settings(queue, settings)
    await queue.start()
    if legacy.engine.model_fields_set or legacy.families:
        await save_settings(queue.store, settings)
        app_settings.forget_legacy()
        logger.info("engine settings moved from the window's settings into the store")


async def _loaded(
    engine: EnginePort,
    engine_settings: EngineSettingsPort,
    closers: list[Callable[[], Awaitable[object]]],
    settings: QSettings,
    shown: Callable[[MainWindow], object] | None = None,
    frame: MainWindow | None = None,
) -> MainWindow:
    """A window over `engine` with every task loaded; `closers` run when it shuts down.
    `frame` is composed if it is not yet, else a new window is built. `shown(window)` runs
    before the tasks are read. A window the user closed while it was loading is returned as
    it is (shut down, or shutting down)."""
    bridge = EngineBridge(engine)
    if frame is not None and not frame.composed:
        window = frame
    else:
        looks = AppSettings(settings)
        apply_appearance(looks.theme, looks.font_size)  # before the window: it is built themed
        window = MainWindow(settings)
    window.compose(engine, bridge, engine_settings=engine_settings, closers=closers)
    bridge.setParent(window)
    restyle(window.findChildren(QWidget))  # the light colours its modules set, if dark
    HelpMenu.install(window, engine.data_dir)
    if shown is not None:
        shown(window)
    try:
        await window.load()
    except BaseException:
        if window.shutdown_requested:
            logger.info("the window was closed while it loaded")
            return window
        await window.shutdown()
        window.deleteLater()
        raise
    return window


async def open_main_window(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    ask: Callable[[QueueError], Awaitable[StoreChoice]] = ask_about_damaged_store,
    **kwargs: Any,
) -> MainWindow:
    """`create_main_window`, and if the store is damaged, `ask` the user what to do: bring
    back the newest backup, set the damaged file aside and start empty, or quit (the error
    is raised again). The engine never replaces a damaged store without that answer."""
    try:
        return await create_main_window(data_dir, **kwargs)
    except QueueError as exc:
        if not exc.details.get("damaged"):
            raise
        choice = await ask(exc)
        if choice == StoreChoice.QUIT:
            raise
    if choice == StoreChoice.RESTORE:
        path = resolve_data_dir(data_dir)
        await asyncio.to_thread(restore_backup, path, "latest", time.time())
        return await create_main_window(data_dir, **kwargs)
    return await create_main_window(data_dir, replace_damaged_store=True, **kwargs)


# --------------------------------------------------------------------------- waiting on Qt


async def wait_for_condition(
    predicate: Callable[[], bool], *signals: SignalInstance, timeout_s: float
) -> None:
    """Return once `predicate()` holds, checking it again whenever one of `signals` fires.
    Raises TimeoutError after `timeout_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        fired: asyncio.Future[None] = loop.create_future()

        def wake(*_args: object, fut: asyncio.Future[None] = fired) -> None:
            if not fut.done():
                fut.set_result(None)

        for s in signals:
            s.connect(wake)
        try:
            await asyncio.wait_for(fired, max(0.0, deadline - loop.time()))
        finally:
            for s in signals:
                s.disconnect(wake)


async def let_qt_settle(rounds: int = 2) -> None:
    """Let Qt handle what is posted (layouts, polish, paints) before looking at widgets."""
    loop = asyncio.get_running_loop()
    for _ in range(rounds):
        done: asyncio.Future[None] = loop.create_future()
        QTimer.singleShot(0, lambda fut=done: fut.done() or fut.set_result(None))
        await done


# --------------------------------------------------------------------------- one instance


# --------------------------------------------------------------------------- main


async def run(
    args: argparse.Namespace,
    data_dir: Path,
    instance: SingleInstance | None,
    frame: MainWindow | None = None,
) -> int:
    """What `qtqueue gui` runs once its `frame` (if any) shows (`qtqueue.launch`): the
    window over the engine until it is closed, or `--screenshot`."""
    redis = getattr(args, "redis", None)  # a cluster's window (`qtqueue --redis URL gui`)
    if args.screenshot:
        # The default layout, not the user's: screenshots should not depend on who takes them.
        with tempfile.TemporaryDirectory(prefix="qtqueue-screenshot-") as tmp:
            settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
            if args.theme:
                settings.setValue(KEY_THEME, args.theme)
            window = await open_main_window(data_dir, settings=settings, redis=redis)
            return await _screenshot(window, Path(args.screenshot), args.size)
    opener = functools.partial(
        open_main_window, data_dir, shown=_show_before_loading, frame=frame, redis=redis
    )
    await run_windows(opener, instance=instance)
    return 0


def _show_before_loading(window: MainWindow) -> None:
    """Show the window as soon as it is built (a frame shown first already is); its tasks
    fill in behind."""
    if not window.isVisible():
        window.show()
        logger.info("window shown %.2f s after the process started", process_age_s())


async def run_windows(
    open_window: Callable[[], Awaitable[MainWindow]],
    *,
    instance: SingleInstance | None = None,
    opened: Callable[[MainWindow], object] | None = None,
) -> None:
    """Show the window `open_window()` gives until it is closed. When the user brings a
    backup back (`MainWindow.restoreRequested`), its window and engine are shut down (the
    engine holds the data directory's lock), the backup is restored, and a new window from
    `open_window()` takes its place, with the tray and `instance`'s raise requests; it then
    says how the restore went. A restore that fails changes nothing: the new window opens on
    the queue as it was and shows the coded error. `opened` sees every window shown.

    SIGINT and SIGTERM quit (even with close-to-tray), shutting the engine down cleanly; one
    that comes during a restore lets it finish and opens no new window."""
    window = await open_window()
    stopping = False
    live: MainWindow | None = None  # the window shown now; None while restoring

    def stop() -> None:
        nonlocal stopping
        stopping = True
        if live is not None:
            live.quit()

    report: Callable[[MainWindow], object] | None = None
    with _on_signals(asyncio.get_running_loop(), stop):
        while True:
            if stopping:  # the signal came while this window was opening
                await window.shutdown()
                window.close()
                return
            if window.shutdown_requested:  # the user closed it while it loaded
                await window.shutdown()  # then ends as after a normal close
                return
            if opened is not None:
                opened(window)
            live = window
            chosen = await _show_until_closed(window, instance, report)
            live = None
            if chosen is None:
                return
            report = await _restore(window, chosen)
            if stopping:
                return
            window = await open_window()


async def _show_until_closed(
    window: MainWindow,
    instance: SingleInstance | None,
    report: Callable[[MainWindow], object] | None,
) -> str | None:
    """Show `window` (then `report` over it) until it closes (None) or asks for a
    restore (the backup's name)."""
    outcome: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

    def settle(value: str | None) -> None:
        if not outcome.done():
            outcome.set_result(value)

    if window.shutdown_requested:  # closed while it loaded: never shown again
        await window.shutdown()
        return None
    window.closed.connect(lambda: settle(None))
    window.restoreRequested.connect(settle)
    if instance is not None:
        instance.raiseRequested.connect(window.bring_to_front)
    install_tray(window, window)  # only where the desktop has a tray
    try:
        window.show()
        logger.info(
            "window open on %s, its %d tasks shown %.2f s after the process started",
            window.queue.data_dir, window.model.rowCount(), process_age_s(),
        )  # fmt: skip
        if report is not None:
            report(window)
        return await outcome
    finally:
        if instance is not None:
            instance.raiseRequested.disconnect(window.bring_to_front)


async def _restore(window: MainWindow, name: str) -> Callable[[MainWindow], object]:
    """Shut `window` down, then bring the backup `name` back; returns what to show over
    the next window."""
    data_dir = window.queue.data_dir
    logger.info("closing the queue on %s to bring back the backup %s", data_dir, name)
    window.setEnabled(False)  # nothing more can be asked of this engine
    window.show_message(f"Closing the queue to bring back the backup {name}…", 0)
    await window.shutdown()
    window.close()
    window.deleteLater()
    try:
        backup, aside = await asyncio.to_thread(restore_backup, data_dir, name, time.time())
    except (QueueError, OSError) as exc:
        error = as_queue_error(exc)
        logger.warning("the backup %s was not brought back: %s", name, error)
        return functools.partial(
            show_coded_error,
            name="restoreFailed",
            title="The backup was not restored",
            error=error,
        )
    kept = f"; the database it replaced is kept as {aside}" if aside else ""
    return lambda w: w.show_message(f"Restored the backup {backup.name}{kept}", 0)


@contextlib.contextmanager
def _on_signals(loop: asyncio.AbstractEventLoop, handler: Callable[[], None]) -> Any:
    """Call `handler` on SIGINT and SIGTERM, where the loop can handle signals."""
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, handler)
            handled.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            logger.debug("cannot handle %s here", sig.name)
    try:
        yield
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


async def _screenshot(window: MainWindow, path: Path, size: tuple[int, int]) -> int:
    """Show the window at `size`, wait until the table holds every stored task, save a PNG
    of it, shut down."""
    try:
        window.resize(*size)
        window.show()
        if (window.width(), window.height()) != size:
            logger.warning(
                "the window cannot be %dx%d here; it is %dx%d",
                *size,
                window.width(),
                window.height(),
            )
        stats = await window.queue.get_queue_stats()
        total = int(stats["summary"]["total_tasks"])
        model = window.model
        await wait_for_condition(
            lambda: model.rowCount() >= total,
            model.batchApplied,
            timeout_s=SCREENSHOT_TIMEOUT_S,
        )
        if window.proxy.rowCount() and not window.selected_tasks():
            loaded: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            def log_loaded(_task_id: str) -> None:
                if not loaded.done():
                    loaded.set_result(None)

            window.detail.logLoaded.connect(log_loaded)
            window.table.selectRow(0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(loaded, 2.0)
        window.show_stats(await window.queue.get_queue_stats())
        await let_qt_settle()
        image = window.grab()
        path.parent.mkdir(parents=True, exist_ok=True)
        saved = image.save(str(path), "PNG")
        logger.info("screenshot of %d tasks saved to %s", total, path)
    finally:
        await window.shutdown()
        window.close()
    if not saved:
        sys.stderr.write(f"error: could not write {path}\n")
        return 1
    return 0
