"""Docker progress without a daemon: layer bytes summed into one percentage, the per-layer log
lines and their parser, build steps, credentials and the daemon's error texts."""

from __future__ import annotations

from typing import Any

import pytest

from qtqueue.core.errors import QueueError, TaskErrorCode, classify_message
from qtqueue.families.docker import LayerProgress, LayerState, parse_layer_lines
from qtqueue.families.docker.client import (
    code_for_text,
    docker_error,
    parse_registry_credential,
    resolve_host,
    stream_error,
)
from qtqueue.families.docker.params import split_reference
from qtqueue.families.docker.progress import BuildSteps, format_layer_line

C = TaskErrorCode


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def msg(layer: str, status: str, current: int | None = None, total: int | None = None) -> Any:
    detail = {} if current is None else {"current": current, "total": total}
    return {"id": layer, "status": status, "progressDetail": detail}


# --- LayerProgress ----------------------------------------------------------------------------


def test_bytes_of_all_layers_are_summed_into_one_percentage() -> None:
    layers = LayerProgress("Pulling")
    layers.feed(msg("a", "Downloading", 10_000_000, 30_000_000))
    layers.feed(msg("b", "Downloading", 5_000_000, 10_000_000))
    assert layers.percent == pytest.approx(100 * 15 / 40)
    assert layers.step().startswith("Pulling: 15.0 MB / 40.0 MB")


def test_a_finished_layer_counts_whole_and_extraction_does_not_count_twice() -> None:
    layers = LayerProgress("Pulling")
    layers.feed(msg("a", "Downloading", 1_000, 4_000))
    layers.feed(msg("a", "Download complete"))
    assert layers.percent == 100.0
    layers.feed(msg("a", "Extracting", 500, 4_000))
    assert layers.percent == 100.0
    assert layers.layers["a"] == LayerState("Extracting", 4_000, 4_000)


def test_layers_without_a_size_yet_count_as_the_average_known_size() -> None:
    layers = LayerProgress("Pulling")
    layers.feed(msg("a", "Pulling fs layer"))
    layers.feed(msg("b", "Downloading", 2_000, 2_000))
    assert layers.percent == pytest.approx(50.0)  # b done, a estimated at b's size


def test_layers_that_need_no_transfer_count_for_nothing() -> None:
    layers = LayerProgress("Pushing")
    layers.feed(msg("a", "Layer already exists"))
    layers.feed(msg("b", "Mounted from library/busybox"))
    layers.feed(msg("c", "Pushing", 1_000, 4_000))
    assert layers.percent == pytest.approx(25.0)


def test_a_transfer_that_ended_well_is_complete_even_with_nothing_to_move() -> None:
    layers = LayerProgress("Pushing")
    layers.feed(msg("a", "Preparing"))
    layers.feed(msg("a", "Layer already exists"))
    assert layers.percent == 0.0
    layers.complete()
    assert layers.percent == 100.0
    assert layers.step() == "Pushing: 0.0 MB / 0.0 MB"


def test_the_percentage_never_goes_down_when_new_layers_appear() -> None:
    layers = LayerProgress("Pushing")
    layers.feed(msg("a", "Pushing", 900, 1_000))
    layers.feed(msg("b", "Pushing", 0, 9_000))  # now only 9% of all bytes are done
    assert layers.percent == pytest.approx(90.0)


def test_an_overshooting_count_is_clamped_to_the_size() -> None:
    layers = LayerProgress("Pushing")
    assert layers.feed(msg("a", "Pushing", 138_752, 3_216)) == "layer a: Pushing 3216/3216 bytes"
    assert layers.percent == 100.0


def test_the_eta_comes_from_the_rate_since_the_first_bytes() -> None:
    clock = Clock()
    layers = LayerProgress("Pulling", clock=clock)
    layers.feed(msg("a", "Downloading", 1_000_000, 11_000_000))
    clock.now += 2.0
    layers.feed(msg("a", "Downloading", 3_000_000, 11_000_000))  # 1 MB/s, 8 MB left
    assert layers.step() == "Pulling: 3.0 MB / 11.0 MB, ETA 8s"
    layers.feed(msg("a", "Download complete"))
    assert layers.step() == "Pulling: 11.0 MB / 11.0 MB"


def test_a_layer_is_logged_on_each_status_change_and_every_ten_points() -> None:
    layers = LayerProgress("Pulling")
    lines = [
        layers.feed(m)
        for m in (
            msg("a", "Pulling fs layer"),
            msg("a", "Waiting"),
            msg("a", "Downloading", 100, 1_000),
            msg("a", "Downloading", 150, 1_000),  # +5 points: quiet
            msg("a", "Downloading", 200, 1_000),  # +10 points
            msg("a", "Downloading", 250, 1_000),
            msg("a", "Downloading", 1_000, 1_000),  # done
            msg("a", "Download complete"),
            msg("a", "Pull complete"),
            msg("a", "Pull complete"),  # a repeat: quiet
        )
    ]
    assert [line for line in lines if line] == [
        "layer a: Pulling fs layer",
        "layer a: Waiting",
        "layer a: Downloading 100/1000 bytes",
        "layer a: Downloading 200/1000 bytes",
        "layer a: Downloading 1000/1000 bytes",
        "layer a: Download complete 1000/1000 bytes",
        "layer a: Pull complete 1000/1000 bytes",
    ]


def test_only_messages_about_one_layer_are_layer_messages() -> None:
    assert LayerProgress.is_layer_message(msg("3f4ca61aafcd", "Waiting"))
    assert not LayerProgress.is_layer_message({"status": "Pulling from qtq/bb", "id": "1"})
    assert not LayerProgress.is_layer_message({"status": "Digest: sha256:abc"})
    assert not LayerProgress.is_layer_message({"progressDetail": {}, "aux": {"Tag": "1"}})


# --- The layer lines and their parser --------------------------------------------------------


def test_layer_lines_have_the_documented_format() -> None:
    assert (
        format_layer_line("3f4ca61aafcd", LayerState("Downloading", 1048576, 2811478))
        == "layer 3f4ca61aafcd: Downloading 1048576/2811478 bytes"
    )
    assert format_layer_line("3f4ca61aafcd", LayerState("Waiting")) == "layer 3f4ca61aafcd: Waiting"


def test_parse_layer_lines_keeps_the_latest_state_of_each_layer() -> None:
    log = "\n".join(
        [
            "Pulling from qtq/bb",
            "layer 3f4ca61aafcd: Pulling fs layer",
            "layer 9d1e2f: Already exists",
            "layer 3f4ca61aafcd: Downloading 1048576/2811478 bytes",
            "some container output: layer x: not at the start",
            "layer 3f4ca61aafcd: Pull complete 2811478/2811478 bytes",
            "layer 77aa: Mounted from library/busybox",
            "Digest: sha256:abc",
        ]
    )
    assert parse_layer_lines(log) == {
        "3f4ca61aafcd": LayerState("Pull complete", 2811478, 2811478),
        "9d1e2f": LayerState("Already exists"),
        "77aa": LayerState("Mounted from library/busybox"),
    }
    assert list(parse_layer_lines(log)) == ["3f4ca61aafcd", "9d1e2f", "77aa"]
    assert parse_layer_lines("") == {}


def test_what_layer_progress_logs_parses_back_to_its_states() -> None:
    layers = LayerProgress("Pushing")
    lines = [
        layers.feed(m)
        for m in (msg("a", "Preparing"), msg("a", "Pushing", 512, 4_096), msg("b", "Waiting"))
    ]
    assert parse_layer_lines("\n".join(line for line in lines if line)) == layers.layers


# --- Build steps ----------------------------------------------------------------------------


def test_build_steps_are_followed_across_chunks() -> None:
    steps = BuildSteps()
    assert steps.step is None and steps.percent == 0.0
    assert steps.feed("Step 1/4 : FROM scratch") == []  # the newline comes as its own chunk
    assert steps.feed("\n ---> \nStep 2/4 : COPY busybox /bin/") == [
        "Step 1/4 : FROM scratch",
        " ---> ",
    ]
    assert steps.feed("busybox\n") == ["Step 2/4 : COPY busybox /bin/busybox"]
    assert (steps.number, steps.total) == (2, 4)
    assert steps.step == "Step 2/4: COPY busybox /bin/busybox"
    assert steps.percent == 25.0
    steps.feed("no newline at the end")
    assert steps.flush() == ["no newline at the end"]


# --- References, hosts, credentials, error texts ---------------------------------------------


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("busybox", ("busybox", None)),
        ("busybox:1.36", ("busybox", "1.36")),
        ("127.0.0.1:5000/qtq/app", ("127.0.0.1:5000/qtq/app", None)),
        ("127.0.0.1:5000/qtq/app:2", ("127.0.0.1:5000/qtq/app", "2")),
        ("app@sha256:abc", ("app", "sha256:abc")),
    ],
)
def test_image_references_are_split_into_repository_and_tag(
    image: str, expected: tuple[str, str | None]
) -> None:
    assert split_reference(image) == expected


def test_the_daemon_is_the_tasks_then_docker_host_then_the_local_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///from/env.sock")
    assert resolve_host("tcp://10.0.0.1:2375") == "tcp://10.0.0.1:2375"
    assert resolve_host(None) == "unix:///from/env.sock"
    monkeypatch.delenv("DOCKER_HOST")
    assert resolve_host(None) == "unix:///var/run/docker.sock"


@pytest.mark.parametrize(
    "value",
    ["alice:pa:ss word", '{"username": "alice", "password": "pa:ss word"}'],
    ids=["user-colon-password", "json"],
)
def test_a_registry_credential_is_user_colon_password_or_json(value: str) -> None:
    assert parse_registry_credential("hub", value) == {
        "username": "alice",
        "password": "pa:ss word",
    }


@pytest.mark.parametrize("value", ["no-colon-secret", '{"username": "a"}', "{not json secret"])
def test_a_malformed_credential_is_refused_without_showing_its_value(value: str) -> None:
    with pytest.raises(QueueError) as raised:
        parse_registry_credential("hub", value)
    assert raised.value.code is C.VALIDATION_INVALID_FORMAT
    assert "'hub'" in raised.value.message
    assert value not in repr(raised.value.to_dict())


@pytest.mark.parametrize(
    ("text", "code"),
    [
        # Texts the daemon (20.10) really sent in the integration tests.
        (
            'Conflict. The container name "/busy" is already in use by container "7655". You '
            "have to remove (or rename) that container to be able to reuse that name.",
            C.DOCKER_CONTAINER_ALREADY_RUNNING,
        ),
        (
            "You cannot remove a running container 7655. Stop the container before attempting "
            "removal or force remove",
            C.DOCKER_CONTAINER_ALREADY_RUNNING,
        ),
        (
            "An image does not exist locally with the tag: 127.0.0.1:5101/qtq/none",
            C.DOCKER_IMAGE_NOT_FOUND,
        ),
    ],
)
def test_the_daemons_wording_is_classified(text: str, code: TaskErrorCode) -> None:
    assert classify_message(text) is code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("unauthorized: authentication required", C.DOCKER_AUTHENTICATION_FAILED),
        ("no basic auth credentials", C.DOCKER_AUTHENTICATION_FAILED),
        (
            'Get "http://127.0.0.1:5109/v2/": dial tcp 127.0.0.1:5109: connect: connection refused',
            C.DOCKER_NETWORK_ERROR,
        ),
        ("received unexpected HTTP status: 503 Service Unavailable", C.DOCKER_REGISTRY_ERROR),
        ("something nobody expected", C.DOCKER_PUSH_FAILED),
    ],
)
def test_a_stream_error_gets_the_code_its_text_points_to(text: str, code: TaskErrorCode) -> None:
    assert code_for_text(text, C.DOCKER_PUSH_FAILED) is code
    failure = stream_error(
        {"error": text, "errorDetail": {"message": text}}, C.DOCKER_PUSH_FAILED, "pushing x"
    )
    assert failure is not None and failure.code is code
    assert failure.message == f"pushing x: {text}"
    assert stream_error({"status": "Pushed"}, C.DOCKER_PUSH_FAILED, "pushing x") is None


def test_a_socket_this_user_may_not_use_is_a_permission_error() -> None:
    import requests

    try:
        raise PermissionError(13, "Permission denied")
    except PermissionError as cause:
        try:
            raise requests.exceptions.ConnectionError(("Connection aborted.", cause)) from cause
        except requests.exceptions.ConnectionError as exc:
            failure = docker_error(exc, C.DOCKER_PULL_FAILED, "pulling x", "unix:///s.sock")
    assert failure.code is C.DOCKER_PERMISSION_DENIED
    assert failure.message == (
        "pulling x: permission denied while trying to connect to the Docker daemon at "
        "unix:///s.sock"
    )
