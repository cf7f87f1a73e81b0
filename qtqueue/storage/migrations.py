"""Forward-only schema migrations for the SQLite store.

Index choices are measured (bench/engine.py): SQLite rewrites an index entry whenever an UPDATE
sets one of the index's columns, or a column of its WHERE, so the unfinished tasks are indexed by
seq where completed_at is NULL (neither changes when a task is claimed), and transitions point at
the task's integer rowid (appended in order) rather than its random UUID.

`MIGRATIONS[n]` takes a database at version n to n+1. Never edit a released step: add one.
A database of every released version must keep loading (tests/storage/fixtures holds them).
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 0 -> 1: the initial schema.
    """
    CREATE TABLE tasks (
        id            TEXT PRIMARY KEY,
        seq           INTEGER NOT NULL,
        task_type     TEXT NOT NULL,
        name          TEXT NOT NULL,
        params        TEXT NOT NULL,
        category      TEXT NOT NULL,
        tags          TEXT NOT NULL,
        priority      INTEGER NOT NULL,
        status        TEXT NOT NULL,
        progress      REAL NOT NULL,
        current_step  TEXT NOT NULL,
        created_at    REAL NOT NULL,
        started_at    REAL,
        completed_at  REAL,
        duration_s    REAL,
        error         TEXT,
        error_code    TEXT,
        error_details TEXT NOT NULL,
        retry_count   INTEGER NOT NULL,
        max_retries   INTEGER NOT NULL,
        retry_backoff TEXT NOT NULL,
        timeout_s     REAL,
        run_at        REAL,
        expires_at    REAL,
        depends_on    TEXT NOT NULL,
        resources     TEXT NOT NULL,
        permission    TEXT NOT NULL,
        on_interrupt  TEXT NOT NULL,
        dead_letter   INTEGER NOT NULL,
        result        TEXT,
        paused_from   TEXT,
        wait_reason   TEXT NOT NULL,
        pid           INTEGER,
        updated_at    REAL NOT NULL
    );
    CREATE INDEX tasks_unfinished ON tasks(status)
        WHERE status NOT IN ('completed', 'failed', 'cancelled', 'timeout');
    CREATE INDEX tasks_category ON tasks(category);
    CREATE INDEX tasks_type ON tasks(task_type);
    CREATE INDEX tasks_created_at ON tasks(created_at);
    CREATE TABLE task_events (
        id           INTEGER PRIMARY KEY,
        task_rid     INTEGER NOT NULL,
        at           REAL NOT NULL,
        from_status  TEXT,
        to_status    TEXT NOT NULL,
        task_type    TEXT NOT NULL,
        error_code   TEXT,
        duration_s   REAL
    );
    CREATE INDEX task_events_at ON task_events(at);
    CREATE INDEX task_events_task ON task_events(task_rid);
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 1 -> 2: dependencies that may fail, time to live, named queues, approvals (issue #5).
    """
    ALTER TABLE tasks ADD COLUMN allow_dependency_failure INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN ttl_s REAL;
    ALTER TABLE tasks ADD COLUMN queue TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE tasks ADD COLUMN approved_at REAL;
    """,
    # 2 -> 3: recurring schedules (issue #5); their occurrences are ordinary rows of tasks.
    """
    CREATE TABLE schedules (
        id            TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        template      TEXT NOT NULL,
        kind          TEXT NOT NULL,
        cron          TEXT,
        interval_s    REAL,
        timezone      TEXT,
        missed        TEXT NOT NULL,
        paused        INTEGER NOT NULL,
        next_run_at   REAL,
        last_run_at   REAL,
        last_task_id  TEXT,
        last_error    TEXT,
        occurrences   INTEGER NOT NULL,
        created_at    REAL NOT NULL,
        updated_at    REAL NOT NULL
    );
    """,
    # 3 -> 4: the unfinished tasks are indexed by the absence of completed_at instead of by
    # status, so claiming a task (PENDING -> RUNNING) writes no index page. The store writes
    # completed_at only for finished tasks; rows of older versions are brought in line.
    """
    DROP INDEX tasks_unfinished;
    UPDATE tasks SET completed_at = NULL
        WHERE completed_at IS NOT NULL
        AND status NOT IN ('completed', 'failed', 'cancelled', 'timeout');
    CREATE INDEX tasks_open ON tasks(seq) WHERE completed_at IS NULL;
    """,
    # 4 -> 5: which error codes a task's retries cover (issue #10): JSON lists of codes.
    """
    ALTER TABLE tasks ADD COLUMN retry_on TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE tasks ADD COLUMN no_retry_on TEXT NOT NULL DEFAULT '[]';
    """,
    # 5 -> 6: questions a running task asks a person, and their answers (issue 12).
    """
    CREATE TABLE questions (
        id              TEXT PRIMARY KEY,
        task_id         TEXT NOT NULL,
        request_type    TEXT NOT NULL,
        message         TEXT NOT NULL,
        context         TEXT NOT NULL,
        created_at      REAL NOT NULL,
        expires_at      REAL NOT NULL,
        conversation_id TEXT NOT NULL,
        parent_id       TEXT,
        status          TEXT NOT NULL,
        response_type   TEXT,
        answer          TEXT,
        instructions    TEXT NOT NULL,
        generated_by    TEXT,
        responder_id    TEXT,
        answered_at     REAL
    );
    CREATE INDEX questions_task ON questions(task_id);
    CREATE INDEX questions_open ON questions(created_at) WHERE status = 'open';
    """,
    # 6 -> 7: a task's unset timeout now takes its named queue's default (issue 12). Schedules
    # saved before kept "no timeout" as null: they say it explicitly (0). A store that already
    # holds tasks keeps its finished tasks as before, with no queue result or failure TTLs
    # (the engine reads this mark once, see engine/named_queues.py `predating`).
    """
    UPDATE schedules SET template = json_set(template, '$.timeout_s', 0)
        WHERE json_type(template, '$.timeout_s') IS NULL
        OR json_type(template, '$.timeout_s') = 'null';
    INSERT OR REPLACE INTO meta(key, value)
        SELECT 'queue_ttls_predate', '1' WHERE EXISTS (SELECT 1 FROM tasks);
    """,
    # 7 -> 8: the URL a task's end is posted to (issue 14, engine/notify.py).
    "ALTER TABLE tasks ADD COLUMN notify_webhook TEXT;",
    # 8 -> 9: who added each task (issue 15): a user, an API key's name, `schedule:<id>`.
    "ALTER TABLE tasks ADD COLUMN created_by TEXT NOT NULL DEFAULT '';",
]

SCHEMA_VERSION = len(MIGRATIONS)


def statements(script: str) -> list[str]:
    """The statements of a migration script (no semicolons inside our statements)."""
    return [s.strip() for s in script.split(";") if s.strip()]
