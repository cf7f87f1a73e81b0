"""Fuzzing the local API: whatever a client sends, it gets a coded answer and nothing is lost.

A real engine process (`python -m qtqueue --data-dir D run`) serves its Unix socket; hypothesis
sends it requests for every action in the action table (params built from every field name the
actions' params models and the task know, with values of every JSON kind — integers past 64
bits, NaN, lone surrogates among them), raw request bodies (random bytes, valid requests cut
short or with bytes changed, deep nesting) and raw bytes straight into the socket. Every reply
must be JSON with a code other than INTERNAL_ERROR; afterwards the engine is alive and the
sentinel tasks added before the first request are exactly as they were. The no-engine path (the
store opened in-process, as the command line does) gets the same action requests. The REST API
(`HttpServer` over an engine that dispatches nothing) gets random methods on its routes (taken
from its router, the endless `/events` aside) and on random paths, with random queries and
bodies: every refusal is a coded JSON error under 500, and the sentinels stay.

Each test prints its figures (inputs, accepted, coded errors, internal errors, sentinels lost);
`pytest -s` shows them. QTQUEUE_FUZZ_EXAMPLES scales the number of examples (default 1: 3,650
inputs in all, well under a minute); QTQUEUE_FUZZ_RANDOM=1 draws new examples instead of the
same ones every run.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import http.client
import json
import os
import socket
import sqlite3
import subprocess
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import qtqueue_env, running_engine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.http_auth_env import bearer
from qtqueue.api.actions import ACTIONS, run_action
from qtqueue.api.client import LocalBackend
from qtqueue.api.http.app import build_app
from qtqueue.api.http.server import HttpServer
from qtqueue.api.params import Params
from qtqueue.core.task import Task
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry

SCALE = float(os.environ.get("QTQUEUE_FUZZ_EXAMPLES", "1"))
#: The same examples every run (a suite that passes passes again), unless asked for new ones.
RANDOM = os.environ.get("QTQUEUE_FUZZ_RANDOM", "") == "1"
STARTUP_S = 30.0


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=not RANDOM,
    )


# --------------------------------------------------------------------------- what is sent


def _params_models() -> list[type[Params]]:
    """Every action's params model, found by walking the model classes (so a new action's
    fields are fuzzed without a change here)."""
    found: list[type[Params]] = []
    todo = [Params]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(found, key=lambda m: m.__qualname__)


MODELS = _params_models()
TASK_FIELDS = sorted(f.name for f in dataclasses.fields(Task))
KEYS = sorted({k for m in MODELS for k in m.model_fields} | set(TASK_FIELDS) | {"tasks"})
TYPES = sorted(e.name for e in default_registry(entry_points=False))

text = st.text(max_size=12) | st.text(
    st.characters(categories=["Cs", "Co", "Zs", "Cc"]) | st.sampled_from("./-_ab0"), max_size=8
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # unbounded: past 2**63 too
    | st.integers(min_value=-(2**63) - 2, max_value=2**63 + 2).filter(lambda n: abs(n) > 2**62)
    | st.floats()  # NaN and infinities included
    | text
    | st.sampled_from([*TYPES, "pending", "completed", "pause", "cancel", "remove", "../../x"])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text | st.sampled_from(KEYS),
                                                                 inner, max_size=3),
    max_leaves=6,
)  # fmt: skip
#: Tasks the fuzz may act on (pause, approve, remove…), by id or prefix; never the sentinels.
VICTIMS: list[dict[str, Any]] = [
    {"task_type": "custom_command", "params": {"command": "true"}, "id": "victim-done"},
    {"task_type": "custom_command", "params": {"command": "true"}, "id": "victim-later",
     "run_at": 4102444800.0},
    {"task_type": "custom_command", "params": {"command": "true"}, "id": "victim-approval",
     "permission": "human_required"},
]  # fmt: skip
plausible = (
    st.sampled_from([v["id"] for v in VICTIMS] + ["victim", "vict", "victim-l"])
    | st.integers(0, 5)
    | st.booleans()
    | st.sampled_from(["pause", "resume", "retry", "cancel", "remove", "pending", "default"])
)
params = st.one_of(
    # the fields of one params model: often exactly what some action takes
    st.sampled_from(MODELS).flatmap(
        lambda m: st.fixed_dictionaries(
            {}, optional={k: plausible | values for k in m.model_fields}
        )
    ),
    st.dictionaries(st.sampled_from(KEYS), plausible | values, max_size=4),
    st.dictionaries(st.sampled_from(KEYS) | text, values, max_size=5),
)
task_dicts = st.fixed_dictionaries(
    {"task_type": st.sampled_from(TYPES) | values},
    optional={
        "params": st.fixed_dictionaries({"command": st.sampled_from(["true", "false"])}) | values,
        **{name: values for name in TASK_FIELDS if name not in ("task_type", "params")},
    },
)
action_params = st.one_of(
    params, task_dicts, st.fixed_dictionaries({"tasks": st.lists(task_dicts, max_size=3)})
)


def _perturbed(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    return {**base, **changes}


#: A good task with one or two fields changed, alone or in a batch: the likeliest way past the
#: first checks into the engine's own.
nearly_good_task = st.builds(
    _perturbed,
    st.just({"task_type": "custom_command", "params": {"command": "true"}}),
    st.dictionaries(st.sampled_from(TASK_FIELDS), plausible | values, min_size=1, max_size=2),
)
nearly_good_add = st.one_of(
    nearly_good_task, st.lists(nearly_good_task, min_size=1, max_size=3).map(lambda t: {"tasks": t})
)
#: Any action on a victim (by id or prefix) with one or two fields of any model beside it.
nearly_good_params = st.builds(
    _perturbed,
    st.sampled_from([{}, *({"task_id": v["id"]} for v in VICTIMS), {"task_id": "vict"}]),
    st.dictionaries(st.sampled_from(KEYS), plausible | values, max_size=2),
)
requests = st.one_of(
    st.fixed_dictionaries({"action": st.just("add_task"), "params": nearly_good_add}),
    st.fixed_dictionaries(
        {"action": st.sampled_from(sorted(ACTIONS)), "params": nearly_good_params}
    ),
    st.fixed_dictionaries({"action": st.sampled_from(sorted(ACTIONS)), "params": action_params}),
    st.dictionaries(st.sampled_from(["action", "params", "extra"]) | text, values, max_size=3),
    values,
)


def _nested(depth: int, kind: str) -> bytes:
    if kind == "params":  # deep inside a task's params, where JSON is stored as it came
        inner = b'{"a": ' * depth + b"1" + b"}" * depth
        return (
            b'{"action": "add_task", "params": {"task_type": "custom_command", '
            b'"params": {"command": "true", "env": ' + inner + b"}}}"
        )
    return b"[" * depth + b"]" * depth


def _mutated(data: Any, cut: int, flips: list[tuple[int, int]]) -> bytes:
    body = bytearray(_encode(data))
    for at, byte in flips:
        if body:
            body[at % len(body)] = byte
    return bytes(body[: max(0, len(body) - cut)])


bodies = st.one_of(
    st.binary(max_size=200),
    st.builds(_nested, st.integers(0, 20_000), st.sampled_from(["list", "params"])),
    st.builds(
        _mutated,
        requests,
        st.integers(0, 20),
        st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=3),
    ),
    st.builds(lambda n: _encode({"action": "add_task", "params": {"task_type": "x" * n}}),
              st.sampled_from([1, 1024 * 1024])),
)  # fmt: skip


def _encode(data: Any) -> bytes:
    """What a client sends: JSON (NaN allowed, surrogates escaped as json.dumps does)."""
    return json.dumps(data).encode()


# --------------------------------------------------------------------------- the engine


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("qtqueue", timeout=30)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class Engine:
    """A `qtqueue run` process and a plain HTTP client of its socket."""

    def __init__(self, data_dir: Path, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.data_dir = data_dir
        self.proc = proc
        self.log = log
        self.socket = str(data_dir / "api.sock")

    def post(self, body: bytes) -> tuple[int, bytes]:
        conn = _UnixHTTP(self.socket)
        try:
            conn.request("POST", "/api", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def call(self, action: str, **params: Any) -> dict[str, Any]:
        status, data = self.post(_encode({"action": action, "params": params}))
        reply = json.loads(data)
        assert status == 200 and reply["ok"], reply
        return reply["result"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """An engine process whose commands find no programs: fuzzed shell text runs nothing."""
    root = tmp_path_factory.mktemp("fuzz")
    (root / "empty-path").mkdir()
    env = {**qtqueue_env(root), "PATH": str(root / "empty-path"), "HOME": str(root)}
    log = root / "engine.log"
    with running_engine(root / "q", env, log, cwd=root, timeout_s=STARTUP_S) as proc:
        yield Engine(root / "q", proc, log)


SENTINELS: list[dict[str, Any]] = [
    # Waits a century to run: nothing the fuzz may do finishes or cleans it up.
    {"task_type": "custom_command", "params": {"command": "true"}, "run_at": 4102444800.0,
     "name": "sentinel: later", "tags": ["sentinel"]},
    # Waits for a person's approval.
    {"task_type": "custom_command", "params": {"command": "true"}, "permission": "human_required",
     "name": "sentinel: approval", "category": "sentinel"},
]  # fmt: skip


def add_sentinels(call: Callable[..., dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Add the sentinels (and the victims, where they are not there yet); the sentinels'
    state."""
    for victim in VICTIMS:
        with contextlib.suppress(AssertionError):  # there from an earlier test: fine
            call("add_task", **victim)
    ids = call("add_task", tasks=SENTINELS)["ids"]
    return {i: call("get_task", task_id=i)["task"] for i in ids}


def lost(call: Callable[..., dict[str, Any]], sentinels: dict[str, dict[str, Any]]) -> list[str]:
    """Sentinels that are gone or changed."""
    out = []
    for task_id, before in sentinels.items():
        try:
            now = call("get_task", task_id=task_id)["task"]
        except AssertionError:
            out.append(task_id)
            continue
        if now != before:
            out.append(task_id)
    return out


class Tally:
    """How the inputs were answered."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.counts: Counter[str] = Counter()
        self.bad: list[str] = []

    def reply(self, status: int, data: bytes, sent: object) -> None:
        self.counts["inputs"] += 1
        sent = sent[:200] if isinstance(sent, bytes) else sent
        try:
            reply = json.loads(data)
            ok = reply["ok"]
            code = None if ok else reply["error"]["code"]
        except (ValueError, KeyError, TypeError):
            self.counts["uncoded"] += 1
            self.bad.append(f"HTTP {status} without a coded JSON reply for {sent!r:.300}")
            return
        if status >= 500 or code == "INTERNAL_ERROR":
            self.counts["internal errors"] += 1
            self.bad.append(f"HTTP {status} {reply!r:.300} for {sent!r:.300}")
        elif ok:
            self.counts["accepted"] += 1
        else:
            self.counts["coded errors"] += 1

    def report(self, sentinels_lost: int) -> None:
        figures = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        print(f"\nfuzz {self.what}: {figures}, sentinels lost {sentinels_lost}")
        assert self.bad == [], "\n".join(self.bad[:10])


# --------------------------------------------------------------------------- the tests


def fuzz_engine(
    engine: Engine,
    what: str,
    examples: int,
    inputs: st.SearchStrategy[Any],
    body_of: Callable[[Any], bytes],
) -> None:
    """Post `examples` of `inputs` (as `body_of` writes them) to the engine; every reply is
    coded, the engine lives, the sentinels are intact."""
    sentinels = add_sentinels(engine.call)
    tally = Tally(what)

    @fuzz_settings(examples)
    @given(sent=inputs)
    def one(sent: Any) -> None:
        status, data = engine.post(body_of(sent))
        tally.reply(status, data, sent)

    one()
    assert engine.proc.poll() is None, engine.log.read_text()
    gone = lost(engine.call, sentinels)
    tally.report(len(gone))
    assert gone == []
    assert engine.call("list_tasks", limit=1)["count"] <= 1  # listing still works


def test_every_action_answers_any_request_with_a_code_and_loses_nothing(engine: Engine) -> None:
    fuzz_engine(engine, "actions through a running engine", 1500, requests, _encode)


def test_any_request_body_gets_a_coded_reply_and_the_engine_lives(engine: Engine) -> None:
    fuzz_engine(engine, "raw bodies through a running engine", 400, bodies, bytes)


def test_bytes_straight_into_the_socket_never_stop_the_engine(engine: Engine) -> None:
    sentinels = add_sentinels(engine.call)
    sent = 0

    @fuzz_settings(150)
    @given(data=st.binary(max_size=300) | st.builds(
        lambda head, body: head + body,
        st.sampled_from([b"POST /api HTTP/1.1\r\nContent-Length: 50\r\n\r\n",
                         b"POST /api HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                         b"GET /tasks/../../x/log HTTP/1.1\r\n\r\n", b"\x16\x03\x01"]),
        st.binary(max_size=100)))  # fmt: skip
    def one(data: bytes) -> None:
        nonlocal sent
        sent += 1
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(30)
            sock.connect(engine.socket)
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):  # until the server is done with the connection
                pass

    one()
    assert engine.proc.poll() is None, engine.log.read_text()
    gone = lost(engine.call, sentinels)
    print(f"\nfuzz raw socket: inputs {sent}, engine alive, sentinels lost {len(gone)}")
    assert gone == []
    assert "Traceback" not in engine.log.read_text()


def test_without_an_engine_the_same_requests_get_a_code_and_lose_nothing(
    tmp_path: Path,
) -> None:
    runner = asyncio.Runner()
    queue = TaskQueue(tmp_path / "q", dispatch=False, registry=default_registry(entry_points=False))
    runner.run(queue.start())
    backend = LocalBackend(queue)
    tally = Tally("actions without an engine")

    def call(action: str, **p: Any) -> dict[str, Any]:
        reply = runner.run(backend.request({"action": action, "params": p}))
        assert reply["ok"], reply
        return reply["result"]  # type: ignore[no-any-return]

    try:
        sentinels = add_sentinels(call)

        @fuzz_settings(400)
        @given(request=requests)
        def one(request: Any) -> None:
            reply = runner.run(backend.request(request))
            tally.reply(200, _encode(reply), request)  # INTERNAL_ERROR is counted by its code

        one()
        gone = lost(call, sentinels)
        tally.report(len(gone))
        assert gone == []
    finally:
        runner.run(queue.close())
        runner.close()
    with sqlite3.connect(tmp_path / "q" / "queue.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


# --------------------------------------------------------------------------- the REST API


class RestEngine:
    """An engine (not dispatching: nothing fuzzed runs) served by `HttpServer` on 127.0.0.1,
    on a loop of its own thread, and a plain HTTP client of it."""

    def __init__(self, data_dir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.queue = TaskQueue(
            data_dir, dispatch=False, registry=default_registry(entry_points=False)
        )
        self.on_loop(self.queue.start())
        self.server = HttpServer(self.queue, "127.0.0.1", 0)
        self.on_loop(self.server.start())
        self.headers = {"Content-Type": "application/json", **bearer(data_dir)}
        self.app = build_app(self.queue)  # its routes, as the server serves them

    def on_loop(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def call(self, action: str, **params: Any) -> dict[str, Any]:
        reply = self.on_loop(run_action(self.queue, {"action": action, "params": params}))
        assert reply["ok"], reply
        return reply["result"]  # type: ignore[no-any-return]

    def send(self, method: str, target: str, body: bytes | None) -> tuple[int, str, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            conn.request(method, target, body, self.headers)
            resp = conn.getresponse()
            return resp.status, resp.getheader("Content-Type", ""), resp.read()
        finally:
            conn.close()

    def close(self) -> None:
        self.on_loop(self.server.stop())
        self.on_loop(self.queue.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def rest_engine(
    tmp_path_factory: pytest.TempPathFactory, secret_service: object
) -> Iterator[RestEngine]:
    """The routes sit behind the API key, kept in the real keyring."""
    engine = RestEngine(tmp_path_factory.mktemp("rest-fuzz") / "q")
    try:
        yield engine
    finally:
        engine.close()


def _route_templates() -> list[str]:
    """Every path the REST app serves (from its router), but the endless event stream."""
    app = build_app(None)  # type: ignore[arg-type]  # routes only: no request reaches it
    paths = {r.resource.canonical for r in app.router.routes() if r.resource is not None}
    return sorted(paths - {"/events"})


PATH_VALUES = st.sampled_from(
    [v["id"] for v in VICTIMS]
    + ["victim", "vict", "pause", "retry", "approve", "run_now", "stats", "worker", "..", "%00"]
) | st.text(st.characters(codec="utf-8", exclude_characters="/?#"), min_size=1, max_size=12)
QUERY_KEYS = ["status", "task_type", "category", "tag", "queue", "limit", "offset", "sort",
              "tail_bytes"]  # fmt: skip
query_values = st.sampled_from(
    ["pending", "running,completed", "-1", "0", "5", "99999999999999", "-priority", "nope", ""]
) | st.text(max_size=8)


def _fill(template: str, values: list[str]) -> str:
    parts = template.split("/")
    it = iter(values)
    return "/".join(
        urllib.parse.quote(next(it, "x"), safe="") if p.startswith("{") else p for p in parts
    )


rest_targets = st.builds(
    lambda path, query: path
    + ("?" + urllib.parse.urlencode(query, errors="surrogatepass") if query else ""),
    st.one_of(
        st.builds(_fill, st.sampled_from(_route_templates()), st.lists(PATH_VALUES, max_size=2)),
        st.text(st.characters(codec="ascii", exclude_characters=" ?#"), max_size=20).map(
            lambda t: "/" + urllib.parse.quote(t, safe="/")
        ),
    ),
    st.dictionaries(st.sampled_from(QUERY_KEYS) | text, query_values, max_size=3),
)
rest_bodies = st.one_of(
    st.none(),
    st.builds(_encode, nearly_good_task | task_dicts | params | values),
    bodies,
)
rest_requests = st.tuples(
    st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"]), rest_targets, rest_bodies
)


def test_rest_routes_answer_anything_with_a_code_and_lose_nothing(
    rest_engine: RestEngine,
) -> None:
    sentinels = add_sentinels(rest_engine.call)
    counts: Counter[str] = Counter()
    bad: list[str] = []

    @fuzz_settings(1200)
    @given(request=rest_requests)
    def one(request: tuple[str, str, bytes | None]) -> None:
        method, target, body = request
        status, content_type, data = rest_engine.send(method, target, body)
        counts["inputs"] += 1
        if status < 400:
            counts[f"{status}"] += 1
            return
        try:
            reply = json.loads(data)
            code = reply["error"]["code"]
            assert reply["ok"] is False and reply["error"]["description"]
        except (ValueError, KeyError, TypeError, AssertionError):
            bad.append(f"HTTP {status} {content_type} {data[:200]!r} for {request!r:.300}")
            return
        counts["coded errors"] += 1
        if status >= 500 or code == "INTERNAL_ERROR":
            bad.append(f"HTTP {status} {reply!r:.300} for {request!r:.300}")

    one()
    gone = lost(rest_engine.call, sentinels)
    print(f"\nfuzz REST routes: {dict(sorted(counts.items()))}, sentinels lost {len(gone)}")
    assert bad == [], "\n".join(bad[:10])
    assert gone == []
    status, _, data = rest_engine.send("GET", "/tasks/?limit=1", None)
    assert status == 200 and json.loads(data)["total"] >= len(sentinels)
