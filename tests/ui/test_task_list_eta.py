"""The time-left and speed estimates behind the ETA and Speed columns (no Qt): bytes first,
then the history of similar tasks, then the task's own progress rate; unknown says so."""

from __future__ import annotations

import pytest

from qtqueue.families.docker.progress import LayerProgress
from qtqueue.ui.task_list.eta import (
    History,
    Progress,
    SpeedMeter,
    format_speed,
    name_pattern,
    remaining,
)


def test_similar_names_share_a_pattern_and_others_do_not() -> None:
    assert name_pattern("Backup 12") == name_pattern("backup 7") == "backup #"
    assert name_pattern("nightly-2026-12-01 db") == name_pattern("nightly-2026-12-07 db")
    assert name_pattern("backup 1") != name_pattern("restore 1")


def test_history_gives_the_median_of_similar_finished_runs_by_type() -> None:
    h = History()
    for i, seconds in enumerate((100.0, 120.0, 900.0)):
        h.add(f"b{i}", "system_backup", f"backup {i}", seconds)
    h.add("other", "custom_command", "backup 9", 5.0)
    assert h.median("system_backup", "backup 42") == 120.0  # one slow run does not skew it
    assert h.median("custom_command", "backup 1") == 5.0
    assert h.median("system_backup", "restore 1") is None
    h.add("b2", "system_backup", "backup 2", 110.0)  # the same task again: replaced
    assert h.median("system_backup", "backup 3") == 110.0
    h.forget("b0")
    assert h.median("system_backup", "backup 3") == 115.0
    h.clear()
    assert h.median("system_backup", "backup 3") is None


def test_bytes_give_the_time_left_before_history_and_progress() -> None:
    p = Progress(
        percent=10.0,
        elapsed=5.0,
        done_bytes=20_000_000,
        total_bytes=100_000_000,
        bytes_per_s=4_000_000.0,
        history_median=300.0,
    )
    assert remaining(p) == pytest.approx(20.0)


def test_history_gives_the_time_left_while_the_run_is_shorter_than_usual() -> None:
    assert remaining(Progress(percent=0.0, elapsed=30.0, history_median=120.0)) == 90.0
    # Longer than usual already: the task's own rate says more than the history.
    assert remaining(Progress(percent=80.0, elapsed=200.0, history_median=120.0)) == 50.0


def test_own_progress_rate_when_nothing_else_is_known() -> None:
    assert remaining(Progress(percent=25.0, elapsed=60.0)) == 180.0
    assert remaining(Progress(percent=0.0, elapsed=60.0)) is None
    assert remaining(Progress(percent=50.0, elapsed=None)) is None


def test_speed_is_measured_over_recent_samples_and_restarts_afresh() -> None:
    meter = SpeedMeter(window_s=10.0)
    assert meter.rate("t") is None
    meter.sample("t", 0.0, 0)
    assert meter.rate("t") is None  # one sample says nothing
    for second in range(1, 31):
        # 1 MB/s for 20 s, then 5 MB/s: the window follows the change.
        rate = 1_000_000 if second <= 20 else 5_000_000
        done = 20_000_000 + (second - 20) * rate if second > 20 else second * rate
        meter.sample("t", float(second), done)
    assert meter.rate("t") == pytest.approx(5_000_000.0)
    meter.sample("t", 31.0, 1_000)  # a retry starts over from fewer bytes
    meter.sample("t", 33.0, 5_000)
    assert meter.rate("t") == pytest.approx(2_000.0)
    meter.forget("t")
    assert meter.rate("t") is None


def test_speed_reads_in_decimal_units_and_unknown_is_a_dash() -> None:
    assert format_speed(12_345_678.0) == "12.3 MB/s"
    assert format_speed(850.0) == "850 B/s"
    assert format_speed(2_500.0) == "2.5 kB/s"
    assert format_speed(None) == "—"


def test_history_forgets_runs_of_types_not_asked_about_yet() -> None:
    h = History()
    h.add("a", "system_backup", "backup 1", 100.0)
    h.add("b", "system_backup", "backup 2", 300.0)
    h.forget("b")  # removed before any task of its type asked
    h.add("a", "system_backup", "backup 1", 50.0)  # finished again after a retry
    assert h.median("system_backup", "backup 9") == 50.0


def test_a_docker_pull_reports_the_bytes_behind_its_speed() -> None:
    layers = LayerProgress("Pulling")
    assert layers.byte_counts() == {"done_bytes": 0, "total_bytes": None}  # sizes unknown
    for item in (
        {"id": "a1", "status": "Downloading", "progressDetail": {"current": 1_000, "total": 4_000}},
        {"id": "b2", "status": "Downloading", "progressDetail": {"current": 500, "total": 6_000}},
        {"id": "c3", "status": "Already exists", "progressDetail": {}},
    ):
        layers.feed(item)
    assert layers.byte_counts() == {"done_bytes": 1_500, "total_bytes": 10_000}
