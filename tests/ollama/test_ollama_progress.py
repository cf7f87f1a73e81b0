"""A pull's progress from Ollama's streamed status objects (progress.py), without a server:
percent over all layers, speed and ETA from the bytes of the current request only, the
layer lines the log gets and the window reads back."""

from __future__ import annotations

from qtqueue.families.ollama import PullLayer, PullProgress, format_pull_line, parse_pull_lines
from qtqueue.families.ollama.progress import human_duration, human_size

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def layer(digest: str, completed: int | None, total: int) -> dict[str, object]:
    body: dict[str, object] = {"status": f"pulling {digest[7:19]}", "digest": digest}
    body["total"] = total
    if completed is not None:  # "Until any of the download is completed, the completed key
        body["completed"] = completed  # may not be included" (docs/api.md)
    return body


def test_percent_counts_every_layer_seen_and_speed_only_this_requests_bytes() -> None:
    clock = Clock()
    progress = PullProgress("smollm2", clock=clock)
    assert progress.feed({"status": "pulling manifest"}) == "pulling manifest"
    assert (
        progress.feed(layer(A, None, 3_000_000)) == f"layer {A[7:19]}: downloading 0/3000000 bytes"
    )
    progress.feed(layer(B, None, 1_000_000))
    clock.now += 2
    progress.feed(layer(A, 2_000_000, 3_000_000))
    assert progress.percent == 50.0
    assert progress.step() == "Pulling smollm2: 2.0 MB / 4.0 MB, 1.0 MB/s, ETA 2s"

    # Paused, then a new request: the server already has 2 MB of A; speed starts over.
    clock.now += 60
    progress.restart()
    progress.feed(layer(A, 2_000_000, 3_000_000))
    assert progress.step() == "Pulling smollm2: 2.0 MB / 4.0 MB"  # no speed before new bytes
    clock.now += 1
    progress.feed(layer(A, 3_000_000, 3_000_000))
    assert progress.step() == "Pulling smollm2: 3.0 MB / 4.0 MB, 1.0 MB/s, ETA 1s"
    assert progress.moved == 3_000_000  # 2 MB before the pause, 1 MB after


def test_a_layer_is_logged_when_its_state_changes_or_it_moved_ten_points() -> None:
    progress = PullProgress("m")
    lines = [progress.feed(layer(A, n * 100, 10_000)) for n in range(0, 101, 5)]
    logged = [line for line in lines if line is not None]
    assert logged[0] == f"layer {A[7:19]}: downloading 0/10000 bytes"
    assert logged[-1] == f"layer {A[7:19]}: done 10000/10000 bytes"
    assert len(logged) == 11  # 0, 10, 20 ... 90 %, then done
    assert progress.feed({"status": "success"}) == "success"
    assert progress.feed({"status": "success"}) is None  # said once


def test_percent_never_goes_back_when_a_new_layer_appears() -> None:
    progress = PullProgress("m")
    progress.feed(layer(A, 1_000, 1_000))
    assert progress.percent == 100.0
    progress.feed(layer(B, 0, 1_000))  # the total grew: the share would drop to 50 %
    assert progress.percent == 100.0
    progress.complete()
    assert progress.percent == 100.0


def test_layer_lines_read_back_as_the_latest_state_of_each_layer() -> None:
    log = "\n".join(
        [
            "pulling manifest",
            format_pull_line(A, PullLayer("downloading", 10, 100)),
            format_pull_line(B, PullLayer("downloading", 0, 50)),
            "paused at 10 B of 150 B",
            format_pull_line(A, PullLayer("done", 100, 100)),
        ]
    )
    assert parse_pull_lines(log) == {
        A[7:19]: PullLayer("done", 100, 100),
        B[7:19]: PullLayer("downloading", 0, 50),
    }


def test_sizes_and_durations_read_as_ollama_shows_them() -> None:
    assert [human_size(n) for n in (512, 1_500, 2_000_000_000)] == ["512 B", "1.5 KB", "2.0 GB"]
    assert [human_duration(s) for s in (45, 187, 7500)] == ["45s", "3m07s", "2h05m"]
