"""The `qtqueue` command line, run as real `python -m qtqueue` processes on real data dirs."""

from __future__ import annotations

import datetime
import getpass
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import psutil
import pytest
from helpers.cli import ok, qtqueue_command, qtqueue_env, refused, running_engine, stop_engine
from helpers.processes import stop_all, tree
from helpers.waiting import wait_until

TIMEOUT_S = 30


class Cli(Protocol):
    def __call__(
        self, *args: str, input: str | None = None
    ) -> subprocess.CompletedProcess[str]: ...


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of every qtqueue process: never the user's real data directory."""
    return qtqueue_env(tmp_path)


@pytest.fixture
def cli(tmp_path: Path, data_dir: Path) -> Cli:
    """Run `python -m qtqueue --data-dir DATA_DIR ARGS…` to completion."""
    return qtqueue_command(tmp_path, data_dir=data_dir)


def task(cli: Cli, task_id: str) -> dict[str, Any]:
    return json.loads(ok(cli("show", task_id, "--json")))  # type: ignore[no-any-return]


class Engine:
    """`qtqueue run` in the background."""

    def __init__(self, proc: subprocess.Popen[bytes], data_dir: Path, log: Path) -> None:
        self.proc = proc
        self.data_dir = data_dir
        self.log = log

    def stop(self) -> int:
        return stop_engine(self.proc)


@pytest.fixture
def engine(data_dir: Path, env: dict[str, str], tmp_path: Path) -> Iterator[Engine]:
    """A running engine; ready once it has announced its API in engine.json."""
    log = tmp_path / "engine.log"
    with running_engine(data_dir, env, log) as proc:
        yield Engine(proc, data_dir, log)


# --------------------------------------------------------------------------- without an engine


def test_add_without_an_engine_stores_the_task_and_run_until_idle_runs_it(cli: Cli) -> None:
    added = cli("add", "command", "--", "echo", "hello", "--not-an-option")
    task_id = ok(added).strip()
    assert "no engine is running" in added.stderr
    assert task(cli, task_id)["status"] == "pending"

    ran = cli("run", "--until-idle")
    ok(ran)
    assert "nothing left to run" in ran.stderr

    shown = task(cli, task_id)
    assert shown["status"] == "completed"
    assert shown["task"]["params"]["args"] == ["hello", "--not-an-option"]
    assert ok(cli("log", task_id)) == "hello --not-an-option\n"


def test_params_flags_and_files(cli: Cli, tmp_path: Path) -> None:
    added = cli(
        "add", "custom_command",
        "-p", "command=true",  # a text param: stays the text "true"
        "-p", 'args=["a", "b"]',
        "-p", "shell=false",
        "-p", "grace_s=2.5",
        "--name", "flags", "--category", "ci", "--tag", "x", "--tag", "y",
        "--priority", "3", "--max-retries", "2", "--timeout", "5", "--json",
    )  # fmt: skip
    reply = json.loads(ok(added))
    assert reply["engine_running"] is False
    t = task(cli, reply["id"])["task"]
    assert t["params"]["command"] == "true"
    assert t["params"]["args"] == ["a", "b"]
    assert t["params"]["shell"] is False and t["params"]["grace_s"] == 2.5
    assert (t["name"], t["category"], t["tags"]) == ("flags", "ci", ["x", "y"])
    assert (t["priority"], t["max_retries"], t["timeout_s"]) == ("urgent", 2, 5.0)

    params = tmp_path / "params.json"
    params.write_text(json.dumps({"command": "ls", "args": ["-l"]}))
    from_file = ok(cli("add", "CUSTOM_COMMAND", "--params-file", str(params))).strip()
    assert task(cli, from_file)["task"]["params"]["args"] == ["-l"]
    from_stdin = ok(cli("add", "cmd", "-f", "-", input='{"command": "pwd"}')).strip()
    assert task(cli, from_stdin)["task"]["params"]["command"] == "pwd"


def test_list_filters_and_formats(cli: Cli) -> None:
    first = ok(cli("add", "command", "--category", "build", "--tag", "t", "--", "make")).strip()
    second = ok(cli("add", "command", "--name", "second one", "--", "true")).strip()
    ok(cli("cancel", second))

    table = ok(cli("ls"))
    header, *rows = table.splitlines()
    assert header.split() == [
        "ID", "NAME", "TYPE", "STATUS", "PROGRESS", "CREATED", "DURATION", "ERROR"
    ]  # fmt: skip
    assert [r.split()[0] for r in rows] == [first[:8], second[:8]]
    assert "second one" in rows[1] and "cancelled" in rows[1]

    def listed(*args: str) -> list[str]:
        return [t["id"] for t in json.loads(ok(cli("ls", "--json", *args)))]

    assert listed("--status", "PENDING", "--status", "cancelled") == [first, second]
    assert listed("--category", "build", "--tag", "t", "--type", "command") == [first]
    assert listed("--limit", "1") == [second]


def test_ids_may_be_given_as_unique_prefixes(cli: Cli) -> None:
    task_id = ok(cli("add", "command", "--", "true")).strip()
    shown = ok(cli("show", task_id[:5]))
    assert f"id:       {task_id}" in shown
    assert "status:   pending" in shown
    assert f"added by: {getpass.getuser()}" in shown  # the command line's user adds it

    for custom in ("abcd-0001", "abcd-0002"):
        request = {
            "action": "add_task",
            "params": {"id": custom, "task_type": "custom_command", "params": {"command": "true"}},
        }
        ok(cli("api", json.dumps(request)))
    assert "matches 2 tasks" in refused(cli("show", "abcd"), "VALIDATION_INVALID_FORMAT")
    assert "at least 4" in refused(cli("log", "abc"), "QUEUE_TASK_NOT_FOUND")


def test_bulk_actions_report_each_task(cli: Cli) -> None:
    a = ok(cli("add", "command", "--", "true")).strip()
    b = ok(cli("add", "command", "--", "true")).strip()

    paused = ok(cli("pause", "--all"))
    assert paused.splitlines() == [
        f"paused {a[:8]} true (now paused)",
        f"paused {b[:8]} true (now paused)",
    ]
    assert len(ok(cli("resume", "--all")).splitlines()) == 2
    assert len(ok(cli("cancel", "--all")).splitlines()) == 2

    mixed = cli("retry", a, "feedfacecafe")  # one does, one fails: exit 1, both reported
    assert mixed.stdout == f"queued again {a[:8]} true (now pending)\n"
    assert "no task with id feedfacecafe" in refused(mixed, "QUEUE_TASK_NOT_FOUND")

    assert ok(cli("remove", "--all")) == f"removed {b[:8]}\n"
    assert ok(cli("remove", "--all")) == "no task to remove\n"


def test_pause_and_resume_the_whole_queue(cli: Cli) -> None:
    assert ok(cli("pause", "--queue")) == "queue paused\n"
    assert "queue:     paused" in ok(cli("stats"))
    assert ok(cli("resume", "--queue")) == "queue resumed\n"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("add", "teleport"), "QUEUE_UNKNOWN_TASK_TYPE"),
        (("add", "custom_command"), "VALIDATION_MISSING_REQUIRED"),
        (("add", "command", "--priority", "asap", "--", "true"), "VALIDATION_INVALID_PARAMS"),
        (("add", "command", "-p", "no-equals-sign", "--", "true"), "VALIDATION_INVALID_FORMAT"),
        (("add", "command", "-p", "colour=red", "--", "true"), "VALIDATION_INVALID_PARAMS"),
        (("add", "monitor", "--", "top"), "VALIDATION_INVALID_PARAMS"),
        (("add", "command", "-f", "/no/such/file.json"), "DATA_FILE_NOT_FOUND"),
        (("api", "{nope"), "VALIDATION_INVALID_FORMAT"),
        (("api", '{"action": "teleport"}'), "VALIDATION_INVALID_PARAMS"),
        (("show", "0123456789"), "QUEUE_TASK_NOT_FOUND"),
        (("log", "--follow", "0123456789"), "QUEUE_TASK_NOT_FOUND"),
    ],
)
def test_bad_input_gives_the_code_and_a_hint(cli: Cli, args: tuple[str, ...], code: str) -> None:
    refused(cli(*args), code)


def test_missing_param_names_the_field(cli: Cli) -> None:
    err = refused(cli("add", "custom_command"), "VALIDATION_MISSING_REQUIRED")
    assert "invalid params for custom_command: command: required" in err
    assert "hint: Fill in the missing parameter" in err


@pytest.mark.parametrize(
    "args",
    [("ls", "--limit", "many"), ("pause",), ("cancel", "abcd", "--all"), ("ls", "--", "x")],
)
def test_bad_usage_exits_2(cli: Cli, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert "usage:" in result.stderr and "Traceback" not in result.stderr


def test_api_runs_one_action_and_prints_its_reply(cli: Cli) -> None:
    reply = json.loads(ok(cli("api", '{"action": "queue_status", "params": {"detailed": true}}')))
    assert reply["ok"] is True
    assert reply["result"]["summary"]["total_tasks"] == 0
    assert "stats" in reply["result"]

    from_stdin = json.loads(ok(cli("api", "-", input='{"action": "types"}')))
    assert from_stdin["ok"] is True

    failed = cli("api", '{"action": "get_task", "params": {"task_id": "feedface"}}')
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["error"]["code"] == "QUEUE_TASK_NOT_FOUND"


@pytest.mark.parametrize("with_engine", [False, True], ids=["no engine", "engine"])
def test_api_refuses_what_no_action_may_see_alike_with_and_without_an_engine(
    cli: Cli, request: pytest.FixtureRequest, with_engine: bool
) -> None:
    """One limit for both paths: a body over the limit, nesting past it and a 64-bit overflow
    are VALIDATION_INVALID_FORMAT either way (the body over the limit used to be stored
    without an engine, and an INTERNAL_ERROR with one)."""
    if with_engine:
        request.getfixturevalue("engine")
    add = {"task_type": "custom_command", "params": {"command": "true"}}
    bodies = [
        json.dumps({"action": "add_task", "params": {**add, "name": "x" * 1024 * 1024}}),
        '{"action": "add_task", "params": ' + "[" * 50_000 + "]" * 50_000 + "}",
        json.dumps({"action": "add_task", "params": {**add, "max_retries": 2**63}}),
    ]
    for body in bodies:
        refused(cli("api", "-", input=body), "VALIDATION_INVALID_FORMAT")
    listed = json.loads(ok(cli("api", '{"action": "list_tasks"}')))
    assert listed["result"]["count"] == 0


def test_help_version_and_options_after_the_command(cli: Cli, data_dir: Path) -> None:
    assert "add" in ok(cli("--help"))
    # the version of the installed package metadata, pyproject.toml's
    assert ok(cli("--version")) == f"qtqueue {metadata.version('qtqueue')}\n"
    elsewhere = data_dir.parent / "elsewhere"
    ok(cli("add", "command", "--data-dir", str(elsewhere), "--", "true"))
    assert (elsewhere / "queue.db").exists()


# --------------------------------------------------------------------------- with an engine


def test_add_reaches_a_running_engine_and_completes_promptly(cli: Cli, engine: Engine) -> None:
    started = time.monotonic()
    added = cli("add", "command", "--json", "--", "sh", "-c", "echo from the engine")
    reply = json.loads(ok(added))
    assert reply["engine_running"] is True
    assert "no engine is running" not in added.stderr
    # log --follow returns once the task is finished
    assert ok(cli("log", "--follow", reply["id"][:8])) == "from the engine\n"
    assert time.monotonic() - started < 5
    assert task(cli, reply["id"])["status"] == "completed"


def test_reading_commands_work_against_a_running_engine(cli: Cli, engine: Engine) -> None:
    task_id = ok(cli("add", "command", "--", "echo", "hi")).strip()
    ok(cli("log", "-f", task_id))  # finished

    assert task_id[:8] in ok(cli("ls", "--status", "completed"))
    shown = ok(cli("show", task_id[:6], "--logs"))
    assert "status:   completed  100%" in shown
    assert 'result:   {"exit_code": 0}' in shown
    assert shown.endswith("--- log (tail) ---\nhi\n")
    stats = ok(cli("stats"))
    assert "engine:    running" in stats
    assert "success:   100.0% (1 completed" in stats
    table = ok(cli("types")).split("\n\n")[0]  # the table; parameter sections follow
    types = {line.split()[0]: line for line in table.splitlines()[1:]}
    assert "yes" in types["custom_command"].split() and "yes" in types["network_scan"].split()
    assert "yes" in types["docker_push"].split()
    status = json.loads(ok(cli("api", '{"action": "queue_status", "params": {"detailed": true}}')))
    assert status["result"]["summary"]["total_tasks"] == 1


#: Prints, after running `qtqueue ARGS…` in this process, which heavy modules it loaded.
_WHAT_A_COMMAND_LOADED = """
import json, sys
from qtqueue.cli import main
status = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules
               if m.split(".")[0] in ("pydantic", "aiohttp") or m.startswith("qtqueue.engine"))
print(json.dumps({"status": status, "heavy": heavy}))
"""


def _command_loading(data_dir: Path, env: dict[str, str], *args: str) -> tuple[str, list[str]]:
    """`qtqueue ARGS…` run in a fresh interpreter: its output, and the engine, pydantic and
    aiohttp modules it imported."""
    done = subprocess.run(
        [sys.executable, "-c", _WHAT_A_COMMAND_LOADED, "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, env=env, timeout=TIMEOUT_S, check=False,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    *printed, last = done.stdout.splitlines()
    loaded = json.loads(last)
    assert loaded["status"] == 0, done.stderr
    return "\n".join(printed), loaded["heavy"]


def test_commands_reach_a_running_engine_without_importing_the_engine(
    data_dir: Path, env: dict[str, str], engine: Engine
) -> None:
    """With an engine running, add / ls / show / types speak to it over the light client: the
    engine, pydantic and aiohttp stay unimported in the command's process."""
    added, heavy = _command_loading(data_dir, env, "add", "--json", "command", "--", "true")
    assert heavy == []
    reply = json.loads(added)
    assert reply["engine_running"] is True
    listed, heavy = _command_loading(data_dir, env, "ls", "--json")
    assert heavy == []
    assert [t["id"] for t in json.loads(listed)] == [reply["id"]]
    for args in (("show", reply["id"][:8]), ("types",), ("schedule", "ls"), ("stats",)):
        _, heavy = _command_loading(data_dir, env, *args)
        assert heavy == [], args


def test_without_an_engine_commands_open_the_store_themselves(
    data_dir: Path, env: dict[str, str]
) -> None:
    """The other way in: no engine runs, so `ls` loads the engine to read the store."""
    added, _ = _command_loading(data_dir, env, "add", "command", "--", "true")
    listed, heavy = _command_loading(data_dir, env, "ls")
    assert added.strip()[:8] in listed
    assert "qtqueue.engine.queue" in heavy


def test_pause_resume_cancel_reach_a_running_engine(cli: Cli, engine: Engine) -> None:
    task_id = ok(cli("add", "command", "--", "sleep", "30")).strip()
    wait_until(lambda: task(cli, task_id)["status"] == "running", what="the task to start")

    assert ok(cli("pause", task_id)).endswith("(now paused)\n")
    assert task(cli, task_id)["status"] == "paused"
    assert ok(cli("resume", task_id[:8])).endswith("(now running)\n")
    assert ok(cli("cancel", task_id)).endswith("(now cancelled)\n")
    refused(cli("resume", task_id), "QUEUE_INVALID_STATE")


def test_a_paused_task_keeps_its_queue_slot_and_show_says_so(cli: Cli, engine: Engine) -> None:
    ok(cli("queues", "set", "one", "--concurrency", "1"))
    first = ok(cli("add", "command", "--queue", "one", "--", "sleep", "600")).strip()
    wait_until(lambda: task(cli, first)["status"] == "running", what="the first task to start")
    ok(cli("pause", first))

    def one() -> dict[str, Any]:
        queues = json.loads(ok(cli("queues", "--json")))
        return next(q for q in queues if q["name"] == "one")  # type: ignore[no-any-return]

    assert (one()["running"], one()["waiting"]) == (1, 0)
    shown = ok(cli("show", first))
    assert "suspended; holds its slot in queue 'one'" in shown
    ok(cli("cancel", first))
    assert one()["running"] == 0


def test_a_second_engine_on_the_same_data_dir_is_refused(cli: Cli, engine: Engine) -> None:
    err = refused(cli("run", "--lock-timeout", "0.1"), "QUEUE_ENGINE_LOCKED")
    assert str(engine.data_dir) in err
    assert engine.proc.poll() is None
    assert (engine.data_dir / "engine.json").exists()


def test_sigterm_stops_the_engine_cleanly(cli: Cli, engine: Engine) -> None:
    task_id = ok(cli("add", "command", "--", "sh", "-c", "echo up; sleep 30")).strip()
    wait_until(lambda: task(cli, task_id)["status"] == "running", what="the task to start")

    assert engine.stop() == 0
    assert not (engine.data_dir / "engine.json").exists()
    assert not (engine.data_dir / "api.sock").exists()
    assert "Traceback" not in engine.log.read_text()
    after = task(cli, task_id)  # read from the store: no engine runs now
    assert after["status"] == "pending"
    assert "shutdown" in after["wait_reason"]


def test_run_until_idle_stops_when_only_a_paused_task_holds_the_slot_others_need(
    cli: Cli, data_dir: Path, env: dict[str, str], tmp_path: Path
) -> None:
    loop = f"while [ ! -e {tmp_path / 'gate'} ]; do sleep 0.05; done"  # never ends here
    held = ok(cli("add", "command", "--", "sh", "-c", loop)).strip()
    behind = ok(cli("add", "command", "--", "true")).strip()
    log = tmp_path / "engine.log"
    with open(log, "w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qtqueue", "--data-dir", str(data_dir), "run",
             "--until-idle", "--max-concurrent", "1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=env,
        )  # fmt: skip
    started: list[psutil.Process] = []  # the engine, its spawner, the held command
    try:
        wait_until(lambda: task(cli, held)["status"] == "running", what="the first task to run")
        started = tree(proc.pid)
        ok(cli("pause", held))
        # The paused task keeps the only slot: nothing else can run until it is resumed,
        # so the run is over (before, it waited for ever).
        assert proc.wait(timeout=TIMEOUT_S) == 0, log.read_text()
        assert task(cli, behind)["status"] == "pending"
        assert task(cli, held)["status"] == "paused"
    finally:
        # Passed or failed, nothing started here outlives the test: the spawner outlives
        # the engine by design, and the command the spawner.
        (tmp_path / "gate").touch()
        stop_all([*started, *tree(proc.pid)])
        proc.wait()


# --------------------------------------------------------------------------- crash safety


def _long_command(runs: Path) -> list[str]:
    """A command that notes each run in `runs`, then works until `runs`.done exists."""
    script = 'echo run >> "$0"; while [ ! -e "$0.done" ]; do sleep 0.05; done'
    return ["command", "--", "sh", "-c", script, str(runs)]


def test_a_headless_engine_killed_with_sigkill_loses_nothing_and_runs_nothing_twice_silently(
    cli: Cli, data_dir: Path, env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "engine.log"
    with running_engine(data_dir, env, log, args=["--max-concurrent", "2"]) as proc:
        finished = ok(cli("add", "command", "--", "true")).strip()
        wait_until(lambda: task(cli, finished)["status"] == "completed", what="a quick task")

        runs_a, runs_b = tmp_path / "runs-a", tmp_path / "runs-b"
        a = ok(cli("add", *_long_command(runs_a))).strip()
        b = ok(cli("add", "--max-retries", "1", *_long_command(runs_b))).strip()
        waiting = ok(cli("add", "command", "--", "true")).strip()  # queued behind a and b

        def running_with_pid(tid: str) -> bool:
            t = task(cli, tid)
            return t["status"] == "running" and bool(t["task"]["pid"])

        wait_until(lambda: running_with_pid(a) and running_with_pid(b), what="a and b to run")
        wait_until(lambda: runs_a.exists() and runs_b.exists(), what="both commands to start")
        pid_a = task(cli, a)["task"]["pid"]
        assert task(cli, waiting)["status"] == "pending"

        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=TIMEOUT_S)
        # The engine is gone but its commands live on, orphaned.
        assert psutil.pid_exists(pid_a)

    # Both commands end while no engine runs, each after its one and only run.
    (tmp_path / "runs-a.done").touch()
    (tmp_path / "runs-b.done").touch()
    ok(cli("run", "--until-idle"))

    # Nothing lost: what had finished is still there, the queued task ran.
    assert task(cli, finished)["status"] == "completed"
    assert task(cli, waiting)["status"] == "completed"
    # a and b are recorded as their commands really ended, each run once, no retry spent.
    for tid, runs in ((a, runs_a), (b, runs_b)):
        t = task(cli, tid)
        assert t["status"] == "completed", t
        assert t["retry"]["count"] == 0
        assert runs.read_text().count("run") == 1
    assert not psutil.pid_exists(pid_a) or psutil.Process(pid_a).status() == "zombie"


def test_dead_letters_are_listed_and_requeued_and_cleanup_removes_finished_tasks(
    cli: Cli, data_dir: Path
) -> None:
    # A command that fails with a retryable code (killed) uses up its one retry: dead letter.
    dead = ok(cli("add", "--max-retries", "1", "command", "--", "sh", "-c", "kill -9 $$"))
    dead = dead.strip()
    done = ok(cli("add", "command", "--", "true")).strip()
    ok(cli("run", "--until-idle"))
    listed = json.loads(ok(cli("ls", "--dead-letter", "--json")))
    assert [t["id"] for t in listed] == [dead]
    assert listed[0]["error_code"] == "SYSTEM_PROCESS_KILLED"

    out = ok(cli("retry", "--dead-letters"))
    assert "1 dead-lettered task(s) requeued" in out
    assert task(cli, dead)["status"] == "pending"
    assert json.loads(ok(cli("ls", "--dead-letter", "--json"))) == []

    ok(cli("cancel", dead))
    assert "removed 0 finished task(s)" in ok(cli("cleanup", "--older-than", "1d"))
    assert "removed 2 finished task(s)" in ok(cli("cleanup", "--older-than", "0s"))
    refused(cli("show", done), "QUEUE_TASK_NOT_FOUND")
    bad = cli("cleanup", "--older-than", "soon")
    assert bad.returncode == 2 and "not a duration" in bad.stderr


def test_types_lists_every_type_and_the_parameters_of_those_that_can_run(cli: Cli) -> None:
    out = ok(cli("types"))
    assert "docker_push" in out and "custom_command" in out
    params = out.split("custom_command parameters:")[1]
    assert "command (string, required): Program to run" in params
    assert "shell (boolean, default false)" in params
    assert "args (array, optional)" in params
    listed = json.loads(ok(cli("types", "--json")))
    assert {t["name"] for t in listed} >= {"docker_build", "system_monitor", "custom_script"}


# --- Dependencies, time, resources, approval, dead letters (issue #5) -------------------------


def test_add_takes_dependencies_times_resources_approval_and_queue(cli: Cli) -> None:
    first = ok(cli("add", "command", "--", "true")).strip()
    ok(cli("queues", "set", "nightly"))
    before = time.time()
    second = ok(
        cli(
            "add", "command", "--after", first[:8], "--allow-dependency-failure",
            "--at", "+10m", "--ttl", "1h", "--needs-cpu", "1", "--needs-memory", "512M",
            "--needs-disk", "1G:/", "--approval", "human_required", "--queue", "nightly",
            "--", "true",
        )
    ).strip()  # fmt: skip
    t = task(cli, second)["task"]
    assert t["depends_on"] == [first]
    assert t["allow_dependency_failure"] is True
    assert before + 590 < t["run_at"] < time.time() + 610
    assert t["ttl_s"] == 3600 and t["expires_at"] == pytest.approx(t["created_at"] + 3600)
    assert t["resources"] == {"cpu_cores": 1.0, "memory_gb": 0.5, "disk_gb": 1.0, "disk_path": "/"}
    assert (t["permission"], t["queue"], t["wait_reason"]) == (
        "human_required", "nightly", "awaiting approval",
    )  # fmt: skip
    shown = ok(cli("show", second))
    for line in (
        f"after:    {first[:8]}  (runs even if one fails)",
        "approval: human_required",
        "queue:    nightly",
        "needs:    cpu_cores 1.0, memory_gb 0.5, disk_gb 1.0, disk_path /",
        "waiting:  awaiting approval",
    ):
        assert line in shown
    at = ok(cli("add", "command", "--at", "2031-01-02T03:04:05+00:00", "--", "true")).strip()
    assert task(cli, at)["task"]["run_at"] == datetime.datetime(
        2031, 1, 2, 3, 4, 5, tzinfo=datetime.UTC
    ).timestamp()


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--needs-memory", "lots", "is not a size"),
        ("--needs-disk", "0G:/", "a size above zero"),
        ("--needs-cpu", "two", "a number of cores"),
        ("--at", "tomorrow", "ISO 8601"),
        ("--at", "+soon", "+DURATION"),
        ("--ttl", "forever", "a duration"),
    ],
)
def test_bad_add_option_values_are_usage_errors_with_a_hint(
    cli: Cli, option: str, value: str, words: str
) -> None:
    err = refused(
        cli("add", "command", option, value, "--", "true"), "VALIDATION_INVALID_FORMAT", 2
    )
    assert option in err and words in err


def test_needs_the_machine_can_never_meet_are_refused(cli: Cli) -> None:
    err = refused(cli("add", "command", "--needs-memory", "100T", "--", "true"),
                  "SYSTEM_MEMORY_LIMIT")  # fmt: skip
    assert "ask for at most" in err
    refused(cli("add", "command", "--after", "feedface", "--", "true"), "QUEUE_TASK_NOT_FOUND")


def test_approve_and_reject(cli: Cli) -> None:
    a = ok(cli("add", "command", "--approval", "human_required", "--", "true")).strip()
    b = ok(cli("add", "command", "--approval", "human_required", "--", "true")).strip()
    assert ok(cli("approve", a[:8])).startswith(f"approved {a[:8]}")
    assert ok(cli("reject", b, "--reason", "not today")).startswith(f"rejected {b[:8]}")
    shown = task(cli, b)
    assert (shown["status"], shown["error"]["code"]) == ("cancelled", "QUEUE_REJECTED")
    assert shown["error"]["message"] == "rejected: not today"
    refused(cli("approve", a), "QUEUE_INVALID_STATE")


def test_dead_letters_are_listed_requeued_and_purged(cli: Cli) -> None:
    ids = [
        ok(cli("add", "command", "--max-retries", "1", "--name", n, "--", "false")).strip()
        for n in ("first", "second")
    ]
    assert ok(cli("dead-letters")) == "no dead letters\n"
    ok(cli("run", "--until-idle"))
    listed = ok(cli("dead-letters"))
    assert listed.splitlines()[0].split() == ["ID", "NAME", "TYPE", "LAST", "ERROR", "WHEN"]
    assert {line.split()[0] for line in listed.splitlines()[1:]} == {i[:8] for i in ids}
    assert "SYSTEM_COMMAND_FAILED: false exited with code 1" in listed

    requeued = ok(cli("dead-letters", "requeue", ids[0][:8]))
    assert requeued.splitlines() == [f"requeued {ids[0][:8]}", "1 dead-lettered task(s) requeued"]
    assert task(cli, ids[0])["status"] == "pending"
    assert ok(cli("dead-letters", "purge", "--all")).splitlines()[-1] == (
        "1 dead-lettered task(s) purged"
    )
    refused(cli("show", ids[1]), "QUEUE_TASK_NOT_FOUND")
    for args in (("dead-letters", "purge"), ("dead-letters", ids[0])):
        assert cli(*args).returncode == 2


def test_add_takes_the_codes_retries_cover_and_a_failing_command_is_retried(cli: Cli) -> None:
    narrowed = ok(cli("add", "command", "--max-retries", "2", "--retry-on", "system_timeout",
                      "--no-retry-on", "SYSTEM_PROCESS_KILLED", "--", "false")).strip()  # fmt: skip
    plain = ok(cli("add", "command", "--max-retries", "2", "--", "false")).strip()
    ok(cli("run", "--until-idle"))
    shown = task(cli, narrowed)
    assert (shown["retry"]["retry_on"], shown["retry"]["no_retry_on"]) == (
        ["SYSTEM_TIMEOUT"], ["SYSTEM_PROCESS_KILLED"],
    )  # fmt: skip
    assert shown["retry"]["count"] == 0  # 'false' fails with SYSTEM_COMMAND_FAILED: not covered
    assert "only on SYSTEM_TIMEOUT  never on SYSTEM_PROCESS_KILLED" in ok(cli("show", narrowed))
    assert task(cli, plain)["retry"]["count"] == 2  # every failure is retried when asked
    err = refused(cli("add", "command", "--max-retries", "1", "--retry-on", "NOPE", "--", "true"),
                  "VALIDATION_INVALID_PARAMS")  # fmt: skip
    assert "'NOPE' is not an error code" in err
    assert len(json.loads(ok(cli("ls", "--json")))) == 2


def test_queues_are_listed_and_set(cli: Cli) -> None:
    listed = ok(cli("queues")).splitlines()
    assert listed[0].split()[:3] == ["QUEUE", "CONCURRENCY", "TIMEOUT"]
    assert [line.split()[0] for line in listed[1:]] == ["high_priority", "default", "low_priority"]
    made = ok(cli("queues", "set", "nightly", "--concurrency", "1", "--timeout", "2h",
                  "--retries", "2", "--result-ttl", "7d")).splitlines()  # fmt: skip
    assert made[1].split() == [
        "nightly", "1", "7200s", "2", "168h00m", "168h00m", "-", "-", "0", "0"
    ]  # fmt: skip
    cleared = json.loads(ok(cli("queues", "set", "nightly", "--concurrency", "none", "--json")))
    assert cleared[0]["concurrency"] is None and cleared[0]["max_retries"] == 2
    assert cli("queues", "set", "nightly", "--concurrency", "0").returncode == 2
    assert cli("queues", "set").returncode == 2
    refused(cli("queues", "set", "bad name"), "VALIDATION_INVALID_FORMAT")


def test_send_writes_a_line_to_a_running_interactive_command(cli: Cli, engine: Engine) -> None:
    code = "import sys\nfor line in sys.stdin:\n    print('got:', line.strip(), flush=True)\n"
    task_id = ok(
        cli("add", "command", "--param", "interactive=true", "--", sys.executable, "-c", code)
    ).strip()
    wait_until(lambda: task(cli, task_id)["status"] == "running", what="the command runs")
    assert ok(cli("send", task_id[:8], "hello")) == f"sent 6 bytes to {task_id[:8]}\n"
    wait_until(lambda: "got: hello" in ok(cli("log", task_id)), what="the command echoes it")
    ok(cli("send", task_id, "bye", "--eof"))
    wait_until(lambda: task(cli, task_id)["status"] == "completed", what="it ends at end of input")
    refused(cli("send", task_id, "late"), "QUEUE_INVALID_STATE")


@pytest.mark.usefixtures("secret_service")
def test_a_command_gets_a_keyring_token_through_env_and_no_output_shows_it(
    tmp_path: Path, data_dir: Path
) -> None:
    from qtqueue.engine.credentials import KeyringVault

    secret = "cli-tok-41d9-not-for-disk"
    KeyringVault().set("deploy-token", secret)
    cli = qtqueue_command(tmp_path, data_dir=data_dir)  # made now: it sees the test's keyring
    seen = tmp_path / "seen"
    task_id = ok(cli("add", "command", "--param", 'env={"TOKEN": "keyring:deploy-token"}',
                     "--", "sh", "-c", f'printf %s "$TOKEN" > {seen}; echo "token is $TOKEN"'))
    task_id = task_id.strip()  # fmt: skip
    ok(cli("run", "--until-idle"))  # a real engine process reads the keyring

    assert seen.read_text() == secret
    shown = ok(cli("show", task_id, "--json"))
    assert json.loads(shown)["status"] == "completed"
    assert "token is ********\n" in ok(cli("log", task_id))
    outputs = shown + ok(cli("show", task_id)) + ok(cli("log", task_id)) + ok(cli("ls", "--json"))
    assert secret not in outputs
    assert secret.encode() not in b"".join(
        p.read_bytes() for p in data_dir.rglob("*") if p.is_file()
    )


# --------------------------------------------------------------------------- config


def test_config_saves_settings_for_the_next_engine_and_refuses_bad_ones(cli: Cli) -> None:
    assert ok(cli("config", "set", "engine.max_concurrent=2", "engine.retention_days=7")) == (
        "engine.max_concurrent = 2\nengine.retention_days = 7.0\n"
    )
    assert ok(cli("config", "get", "engine.max_concurrent")) == "2\n"
    shown = ok(cli("config")).splitlines()
    assert "engine.max_concurrent = 2" in shown and "engine.shutdown_policy = requeue" in shown
    assert json.loads(ok(cli("config", "--json")))["engine"]["max_concurrent"] == 2
    assert "(max 2)" in ok(cli("stats"))  # the store, read as an engine would start on it

    assert "engine.max_concurrent" in refused(
        cli("config", "set", "engine.max_concurrent=0"), "VALIDATION_INVALID_PARAMS"
    )
    assert "engine.nope" in refused(
        cli("config", "set", "engine.nope=1"), "VALIDATION_INVALID_PARAMS"
    )
    assert cli("config", "set").returncode == 2
    assert ok(cli("config", "get", "engine.max_concurrent")) == "2\n"  # nothing changed


def test_config_set_applies_at_once_to_a_running_engine(cli: Cli, engine: Engine) -> None:
    assert "(max 4)" in ok(cli("stats"))
    ok(cli("config", "set", "engine.max_concurrent=1"))
    assert "(max 1)" in ok(cli("stats"))


def test_config_set_changes_only_what_it_names_on_a_running_engine(
    cli: Cli, data_dir: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """A limit typed for this run (`run --max-concurrent 3`) survives a change of another
    setting; the saved limit stays the store's until the user changes that very setting."""
    ok(cli("config", "set", "engine.max_concurrent=1"))
    with running_engine(data_dir, env, tmp_path / "engine.log", args=["--max-concurrent", "3"]):
        assert "(max 3)" in ok(cli("stats"))
        ok(cli("config", "set", "engine.retention_days=7"))
        assert "(max 3)" in ok(cli("stats"))
        assert ok(cli("config", "get", "engine.retention_days")) == "7.0\n"
        ok(cli("config", "set", "engine.max_concurrent=2"))
        assert "(max 2)" in ok(cli("stats"))
    log = (tmp_path / "engine.log").read_text()
    assert "settings changed: engine.retention_days" in log
