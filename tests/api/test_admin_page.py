"""The admin page in a real headless browser (Debian's chromium through chromedriver and
selenium) against a real engine and HTTP server with the real API key in a real keyring.

One browser, one engine and one keyring serve the whole module. Every wait is on the page's
DOM (WebDriverWait) or on the engine; nothing sleeps. Set QTQUEUE_ADMIN_SCREENSHOT=PATH to
keep a copy of the screenshot check's picture.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers.keyring_service import running_secret_service
from selenium.webdriver.common.keys import Keys

from api.admin_env import EngineThread, browser_missing, chromium, http, read_png
from qtqueue.core.errors import error_info

missing = browser_missing()
pytestmark = pytest.mark.skipif(missing is not None, reason=missing or "")

WAIT_S = 15.0


@pytest.fixture(scope="module")
def keyring_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real Secret Service for the module: the API key lives there, as in use."""
    if not (shutil.which("gnome-keyring-daemon") and shutil.which("dbus-daemon")):
        pytest.skip("gnome-keyring and dbus are not installed (see shared/ENVIRONMENT.md)")
    from keyring.backends import SecretService

    with (
        running_secret_service(tmp_path_factory.mktemp("kr")) as session,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setenv("DBUS_SESSION_BUS_ADDRESS", session.address)
        yield SecretService.Keyring()


@pytest.fixture(scope="module")
def engine(
    tmp_path_factory: pytest.TempPathFactory, keyring_backend: Any
) -> Iterator[EngineThread]:
    from qtqueue.api.keys import ApiKeys

    data_dir = tmp_path_factory.mktemp("admin") / "q"
    keys = ApiKeys(data_dir, backend=keyring_backend)
    thread = EngineThread(data_dir, lambda: {"keys": keys})
    thread.keys = keys  # type: ignore[attr-defined]
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium")) as driver:
        yield driver


def api_key(engine: EngineThread) -> str:
    """The key `qtqueue token show` prints for the engine's data directory."""
    keys = engine.keys  # type: ignore[attr-defined]
    secret: str = engine.run(asyncio.to_thread(keys.current)).secret
    return secret


def add_task(
    engine: EngineThread, name: str, *argv: str, key: str | None = None, **fields: Any
) -> str:
    body = {
        "task_type": "custom_command",
        "name": name,
        "params": {"command": argv[0], "args": list(argv[1:])},
        **fields,
    }
    reply = http(f"{engine.url}/tasks/", "POST", body, key=key or api_key(engine))
    assert reply.status == 201, reply.body
    task_id: str = reply.body["task"]["id"]
    return task_id


def task_status(engine: EngineThread, task_id: str) -> str:
    reply = http(f"{engine.url}/tasks/{task_id}", key=api_key(engine))
    status: str = reply.body["task"]["status"]
    return status


def wait(browser: Any, condition: Any, what: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, WAIT_S).until(condition, message=what)


def by_css(browser: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(browser.find_elements(By.CSS_SELECTOR, selector))


def one(browser: Any, selector: str) -> Any:
    found = by_css(browser, selector)
    assert len(found) == 1, f"{selector}: {len(found)} elements"
    return found[0]


def click(browser: Any, selector: str, what: str) -> None:
    """Click the element once the page shows it; a row redrawn meanwhile is found again."""
    from selenium.common.exceptions import StaleElementReferenceException

    def clicked(b: Any) -> bool:
        found = by_css(b, selector)
        if len(found) != 1:
            return False
        try:
            found[0].click()
        except StaleElementReferenceException:
            return False
        return True

    wait(browser, clicked, what)


def row_status(browser: Any, task_id: str) -> str | None:
    rows = by_css(browser, f'tr[data-task-id="{task_id}"]')
    return rows[0].get_attribute("data-status") if rows else None


def row_actions(browser: Any, row: str) -> list[str]:
    """The actions a task's row offers, in order."""
    return [b.get_attribute("data-action") for b in by_css(browser, f"{row} button.action")]


def enter_key(browser: Any, key: str) -> None:
    field = one(browser, "#key-input")
    field.clear()
    field.send_keys(key)
    one(browser, "#key-submit").click()


def signed_in(browser: Any, engine: EngineThread) -> None:
    """The page open with the key entered, its event stream live."""
    browser.get(f"{engine.url}/admin/tasks")
    if one(browser, "#key-panel").is_displayed():
        enter_key(browser, api_key(engine))
    wait(browser, lambda b: one(b, "#connection").get_attribute("data-state") == "live", "live")


def open_connections(engine: EngineThread) -> int:
    """Connections the server holds open (its side of each, established)."""
    port = engine.server.port if engine.server is not None else -1
    return sum(
        1
        for c in psutil.net_connections("tcp")
        if c.laddr and c.laddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


def list_reads(browser: Any) -> int:
    """How many times the page has read the task list since it loaded."""
    count: int = browser.execute_script(
        "return performance.getEntriesByType('resource')"
        ".filter(e => new URL(e.name).pathname === '/tasks/').length"
    )
    return count


def console_errors(browser: Any) -> list[Any]:
    """The page's errors (script errors, refused resources), less the refused keys the
    test itself caused (a 401 is the answer it asked for)."""
    return [
        e
        for e in browser.get_log("browser")
        if e["level"] == "SEVERE" and "status of 401" not in e["message"]
    ]


def console_errors_except_refused_connections(browser: Any) -> list[Any]:
    return [e for e in console_errors(browser) if "ERR_CONNECTION_REFUSED" not in e["message"]]


def test_the_key_is_asked_once_kept_for_the_tab_and_asked_again_when_refused(
    browser: Any, engine: EngineThread
) -> None:
    browser.get(f"{engine.url}/admin/tasks")
    browser.execute_script("sessionStorage.clear()")
    browser.refresh()
    assert one(browser, "#key-panel").is_displayed()
    assert not one(browser, "#main").is_displayed()

    refused = http(f"{engine.url}/tasks/").body["error"]["message"]
    enter_key(browser, "not-the-key")
    wait(browser, lambda b: one(b, "#key-error").text == refused, "the 401's message")
    assert not one(browser, "#main").is_displayed()

    key = api_key(engine)
    enter_key(browser, key)
    wait(browser, lambda b: one(b, "#main").is_displayed(), "the task list")
    wait(browser, lambda b: one(b, "#connection").get_attribute("data-state") == "live", "live")
    # the key is in this tab's sessionStorage and nowhere a URL, cookie or disk store keeps it
    assert browser.execute_script("return sessionStorage.getItem('qtqueue.admin.apiKey')") == key
    assert browser.execute_script("return localStorage.length") == 0
    assert browser.get_cookies() == []
    urls = browser.execute_script(
        "return [location.href, ...performance.getEntriesByType('resource').map(e => e.name)]"
    )
    assert urls and all(u.startswith(engine.url + "/") and key not in u for u in urls), urls
    assert key not in one(browser, "body").get_attribute("outerHTML")

    browser.refresh()  # kept for the tab: no question asked again
    wait(browser, lambda b: one(b, "#connection").get_attribute("data-state") == "live", "live")
    assert not one(browser, "#key-panel").is_displayed()

    # a rotated key refuses the old one at once: the next request brings the form back
    keys = engine.keys  # type: ignore[attr-defined]
    engine.run(asyncio.to_thread(keys.rotate))
    one(browser, 'button[data-filter="failed"]').click()
    wait(browser, lambda b: one(b, "#key-panel").is_displayed(), "the key form again")
    assert one(browser, "#key-error").text == refused
    assert browser.execute_script("return sessionStorage.length") == 0
    enter_key(browser, api_key(engine))
    wait(browser, lambda b: one(b, "#main").is_displayed(), "the task list")

    one(browser, "#forget-key").click()  # the person leaves: the tab keeps nothing
    wait(browser, lambda b: one(b, "#key-panel").is_displayed(), "the key form")
    assert browser.execute_script("return sessionStorage.length") == 0
    assert not one(browser, "#main").is_displayed()
    assert console_errors(browser) == []


def test_a_task_appears_live_and_is_cancelled_from_the_page(
    browser: Any, engine: EngineThread
) -> None:
    signed_in(browser, engine)
    reads = list_reads(browser)

    task_id = add_task(engine, "long sleep", "sh", "-c", "echo started; sleep 60")
    wait(browser, lambda b: row_status(b, task_id) == "running", "the new task, running")
    assert list_reads(browser) == reads  # pushed by the event stream, not read again

    # its log follows while the details are open; closing them ends the stream
    row = f'tr[data-task-id="{task_id}"]'
    one(browser, f"{row} td.name button").send_keys(Keys.ENTER)
    wait(browser, lambda b: "started" in one(b, "#details-log").text, "the live log")
    following = open_connections(engine)
    one(browser, "#details-close").send_keys(Keys.ENTER)
    wait(browser, lambda b: open_connections(engine) < following, "the log stream closed")
    assert not one(browser, "#details").is_displayed()

    assert one(browser, f"{row} td.name").text.startswith("long sleep")
    assert one(browser, f"{row} td.type").text == "custom_command"
    assert row_actions(browser, row) == ["pause", "cancel"]
    one(browser, f"{row} button[data-action=pause]").click()
    wait(browser, lambda b: row_status(b, task_id) == "paused", "the task, paused")
    wait(browser, lambda b: row_actions(b, row) == ["resume", "cancel"], "resume offered")
    one(browser, f"{row} button[data-action=resume]").click()
    wait(browser, lambda b: row_status(b, task_id) == "running", "the task, running again")

    cancel = one(browser, f"{row} button[data-action=cancel]")
    assert cancel.get_attribute("aria-label") == "Cancel long sleep"
    cancel.click()

    wait(browser, lambda b: row_status(b, task_id) == "cancelled", "the task, cancelled")
    assert task_status(engine, task_id) == "cancelled"
    wait(browser, lambda b: row_actions(b, row) == ["retry"], "only retry left")
    assert console_errors(browser) == []


def test_a_failed_task_shows_its_error_code_fix_and_log(browser: Any, engine: EngineThread) -> None:
    signed_in(browser, engine)
    name = 'deploy <img src=x onerror="document.title=1">'
    failing = add_task(
        engine, name, "sh", "-c", "echo step one; echo boom >&2; exit 3", max_retries=0
    )
    done = add_task(engine, "quick", "true")
    wait(browser, lambda b: row_status(b, failing) == "failed", "the task, failed")
    wait(browser, lambda b: row_status(b, done) == "completed", "the other task, completed")

    one(browser, 'button[data-filter="failed"]').click()
    wait(  # the filtered page read: the completed task gone, the failed one back
        browser,
        lambda b: row_status(b, done) is None and row_status(b, failing) == "failed",
        "the completed task filtered out",
    )
    statuses = {r.get_attribute("data-status") for r in by_css(browser, "#task-rows tr")}
    assert statuses == {"failed"}
    assert one(browser, 'button[data-filter="failed"]').get_attribute("aria-pressed") == "true"

    opener = one(browser, f'tr[data-task-id="{failing}"] td.name button')
    opener.send_keys(Keys.ENTER)  # keyboard only
    info = error_info("SYSTEM_COMMAND_FAILED")
    # The details fill in as their reads answer (the task, its error's texts, its log).
    wait(browser, lambda b: one(b, "#error-suggestion").text == info.suggestion, "the fix")
    wait(browser, lambda b: one(b, "#error-code").text == "SYSTEM_COMMAND_FAILED", "the code")
    wait(browser, lambda b: one(b, "#error-description").text == info.description, "the text")
    wait(browser, lambda b: "exited with code 3" in one(b, "#error-message").text, "the error")
    wait(browser, lambda b: one(b, "#details-title").text == name, "the name, as text")
    assert by_css(browser, "img") == [] and browser.title != "1"
    wait(browser, lambda b: "boom" in one(b, "#details-log").text, "the log")
    assert "step one" in one(browser, "#details-log").text
    wait(
        browser,
        lambda b: [x.text for x in by_css(b, "#details-actions button")] == ["Retry"],
        "only Retry offered",
    )
    terms = [t.text for t in by_css(browser, "#details-fields dt")]
    values = [d.text for d in by_css(browser, "#details-fields dd")]
    fields = dict(zip(terms, values, strict=True))
    keys = engine.keys  # type: ignore[attr-defined]
    assert fields["Created by"] == engine.run(asyncio.to_thread(keys.current)).name
    assert fields["Retries"] == "0 of 0" and fields["Status"] == "failed"

    one(browser, "#details").send_keys(Keys.ESCAPE)  # Escape closes, focus goes back
    wait(browser, lambda b: not one(b, "#details").is_displayed(), "the details closed")
    assert browser.switch_to.active_element == opener
    assert console_errors(browser) == []


def test_the_page_reconnects_and_reads_what_it_missed(browser: Any, engine: EngineThread) -> None:
    from qtqueue.core.task import Task

    signed_in(browser, engine)
    engine.stop_server()
    wait(browser, lambda b: one(b, "#connection").get_attribute("data-state") == "down", "down")
    assert "retrying" in one(browser, "#connection").text

    assert engine.queue is not None
    missed = engine.run(
        engine.queue.add_task(
            Task(task_type="custom_command", name="while away", params={"command": "true"})
        )
    )
    engine.start_server()
    wait(browser, lambda b: row_status(b, missed) == "completed", "the task added while away")
    assert one(browser, "#connection").get_attribute("data-state") == "live"
    assert console_errors_except_refused_connections(browser) == []


def test_dispatch_is_paused_and_a_task_approved_from_the_page(
    browser: Any, engine: EngineThread
) -> None:
    signed_in(browser, engine)
    wait(browser, lambda b: one(b, "#dispatch-toggle").text == "Pause dispatch", "the toggle")
    one(browser, "#dispatch-toggle").click()
    try:
        wait(browser, lambda b: "paused" in one(b, "#dispatch-state").text, "dispatch paused")
        stats = http(f"{engine.url}/tasks/stats/queue", key=api_key(engine)).body
        assert stats["summary"]["queue_paused"] is True
        held = add_task(engine, "held back", "true")
        wait(browser, lambda b: row_status(b, held) == "pending", "the task, waiting")
        wait(browser, lambda b: one(b, "#dispatch-toggle").text == "Resume dispatch", "resume")
        one(browser, "#dispatch-toggle").click()
        wait(browser, lambda b: row_status(b, held) == "completed", "the task, run once resumed")
    finally:  # the module's engine dispatches again, whatever happened here
        http(f"{engine.url}/tasks/worker/start", "POST", key=api_key(engine))

    gated = add_task(engine, "needs a yes", "true", permission="human_required")
    click(browser, f'tr[data-task-id="{gated}"] td.name button', "the new task's row")
    wait(browser, lambda b: one(b, "#details-title").text == "needs a yes", "the details")
    buttons = by_css(browser, "#details-actions button")
    assert [b.text for b in buttons] == ["Approve", "Reject", "Pause", "Cancel"]
    buttons[0].click()
    wait(browser, lambda b: row_status(b, gated) == "completed", "the approved task, run")
    assert console_errors(browser) == []


def test_an_overflowed_stream_reads_the_list_again(
    browser: Any, engine: EngineThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qtqueue.api.http import sse

    signed_in(browser, engine)
    reads = list_reads(browser)
    monkeypatch.setattr(sse, "EVENT_BUFFER", 0)  # every batch is more than the page may lag
    task_id = add_task(engine, "missed by the stream", "true")
    wait(browser, lambda b: row_status(b, task_id) == "completed", "the task, from the list")
    assert list_reads(browser) > reads


_SSE_READ = """
const [text, sizes, done] = arguments;
import("/admin/static/sse.js").then(async ({ readEvents }) => {
  const bytes = new TextEncoder().encode(text);
  const results = [];
  for (const size of sizes) {
    const got = [];
    const body = new ReadableStream({
      start(c) {
        for (let i = 0; i < bytes.length; i += size) c.enqueue(bytes.slice(i, i + size));
        c.close();
      },
    });
    await readEvents(body, (m) => got.push([m.type, m.data, m.id]), new AbortController().signal);
    results.push(got);
  }
  done(results);
}).catch((e) => done(String(e)));
"""


def test_the_event_stream_is_read_however_it_is_cut(browser: Any, engine: EngineThread) -> None:
    browser.get(f"{engine.url}/admin/tasks")
    stream = (
        "\ufeffevent: hello\r\ndata: {}\r\n\r\n"
        ": keepalive\n\n"
        "id: 7\nevent: changed\ndata: caf\u00e9 \u2713\ndata: second line\n\n"
        "data: ends in CR\r\r"
        "event: nothing\n\n"
    )
    expected = [
        ["hello", "{}", ""],
        ["changed", "caf\u00e9 \u2713\nsecond line", "7"],
        ["message", "ends in CR", "7"],
    ]
    sizes = [1, 2, 3, 5, 8, len(stream.encode())]
    assert browser.execute_async_script(_SSE_READ, stream, sizes) == [expected] * len(sizes)


def test_a_screenshot_of_the_task_list(browser: Any, engine: EngineThread, tmp_path: Path) -> None:
    signed_in(browser, engine)
    expected = {
        add_task(engine, "build the image", "sh", "-c", "echo 40%; sleep 60"): "running",
        add_task(engine, "run the linters", "true"): "completed",
        add_task(engine, "push to the registry", "false", max_retries=0): "failed",
    }
    for task_id, status in expected.items():
        wait(browser, lambda b, t=task_id, s=status: row_status(b, t) == s, f"a task {status}")
    building = f'tr[data-task-id="{next(iter(expected))}"] td.progress'
    wait(browser, lambda b: one(b, building).text == "40%", "the progress")
    # the statistics follow the events: the count of all tasks is the engine's
    stats = http(f"{engine.url}/tasks/stats/queue", key=api_key(engine)).body
    total = str(stats["summary"]["total_tasks"])
    wait(browser, lambda b: one(b, 'button[data-filter="all"] .count').text == total, "counts")

    png = browser.get_screenshot_as_png()
    (tmp_path / "admin.png").write_bytes(png)
    if os.environ.get("QTQUEUE_ADMIN_SCREENSHOT"):
        target = Path(os.environ["QTQUEUE_ADMIN_SCREENSHOT"])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(png)
    picture = read_png(png, max_rows=400)
    size = browser.execute_script(
        "return [innerWidth * devicePixelRatio, innerHeight * devicePixelRatio]"
    )
    assert [picture.width, picture.height] == size
    assert len(picture.colours()) > 50  # text, badges, bars: not a blank page


def test_older_tasks_are_shown_on_request(browser: Any, engine: EngineThread) -> None:
    signed_in(browser, engine)
    key, later = api_key(engine), time.time() + 3600
    for n in range(201):  # a page and one more, waiting for later
        add_task(engine, f"later {n}", "true", key=key, run_at=later)
    one(browser, 'button[data-filter="pending"]').click()
    wait(browser, lambda b: len(by_css(b, "#task-rows tr")) == 200, "a page of tasks")
    wait(browser, lambda b: one(b, "#show-older").is_displayed(), "the way to older ones")
    assert by_css(browser, "#task-rows tr td.name")[0].text == "later 200"  # newest first

    one(browser, "#show-older").click()
    wait(browser, lambda b: len(by_css(b, "#task-rows tr")) == 201, "the older task")
    assert by_css(browser, "#task-rows tr td.name")[-1].text == "later 0"
    assert not one(browser, "#show-older").is_displayed()
