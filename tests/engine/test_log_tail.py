"""Following a log reads each byte once, across rotations of the bounded log."""

from __future__ import annotations

from pathlib import Path

from qtqueue.engine.logs import BoundedLog, LogTail


def test_a_follower_reading_between_writes_sees_the_whole_output_once(tmp_path: Path) -> None:
    log = BoundedLog(tmp_path / "t.log", cap_bytes=4096)  # rotates every 2 KiB
    tail = LogTail(tmp_path / "t.log")
    seen = b""
    written = b""
    for i in range(1000):  # 10,000 bytes: several rotations
        line = f"line {i:04d}\n".encode()
        log.write(line)
        written += line
        if i % 7 == 0:
            seen += tail.read_new()
    log.close()
    seen += tail.read_new()
    assert seen == written


def test_a_follower_joining_late_starts_with_what_is_retained(tmp_path: Path) -> None:
    log = BoundedLog(tmp_path / "t.log", cap_bytes=4096)
    for i in range(800):  # 8,000 bytes through a 4 KiB cap
        log.write(f"line {i:04d}\n".encode())
    log.close()
    first = LogTail(tmp_path / "t.log").read_new()
    assert first.endswith(b"line 0799\n")
    assert b"line 0000\n" not in first  # older output fell out of the cap
    assert len(first) <= 4096


def test_nothing_new_reads_as_empty(tmp_path: Path) -> None:
    tail = LogTail(tmp_path / "missing.log")
    assert tail.read_new() == b""
    (tmp_path / "missing.log").write_bytes(b"hello\n")
    assert tail.read_new() == b"hello\n"
    assert tail.read_new() == b""
