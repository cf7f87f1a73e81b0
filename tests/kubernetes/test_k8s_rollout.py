"""A rollout read from objects and from its log lines, and the detail pane's rollout view."""

from __future__ import annotations

from typing import Any

import pytest

from qtqueue.families.kubernetes.kinds import labels_match, parse_label_selector
from qtqueue.families.kubernetes.rollout import (
    REVISION_ANNOTATION,
    RolloutView,
    current_pods,
    deployment_failure,
    format_outcome_line,
    format_pod_line,
    format_rollout_line,
    parse_rollout_lines,
    pod_failure,
    rollout_view,
    selector_matches,
)

LOG = """deploying 2 object(s) from inline manifest to local (http://127.0.0.1:1)
Deployment team/web: created
rollout web: 0/3 ready, 3 updated, 0 available
rollout web pod web-a: Pending
rollout web pod web-b: ContainerCreating
rollout web: 2/3 ready, 3 updated, 2 available
rollout web pod web-a: Running
rollout web pod web-b: Deleted
rollout web pod web-c: CrashLoopBackOff
rollout web: failed: pod web-c: CrashLoopBackOff
rollout api: 1/1 ready, 1 updated, 1 available
rollout api: complete
"""


def deployment(desired: int, generation: int = 2, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "generation": generation},
        "spec": {"replicas": desired},
        "status": status,
    }


def test_a_rollout_is_complete_only_when_every_replica_is_updated_ready_and_available() -> None:
    full = {"updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3, "replicas": 3}
    assert rollout_view(deployment(3, observedGeneration=2, **full)).complete
    assert not rollout_view(deployment(3, observedGeneration=1, **full)).complete  # old spec
    assert not rollout_view(deployment(3, observedGeneration=2, **{**full, "replicas": 4})).complete
    half = rollout_view(deployment(3, observedGeneration=2, **{**full, "readyReplicas": 1}))
    assert not half.complete and half.fraction == pytest.approx(1 / 3)
    assert rollout_view(deployment(0, observedGeneration=2)).complete


def test_failures_are_read_from_conditions_and_container_states() -> None:
    stuck = deployment(
        1,
        observedGeneration=2,
        conditions=[
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": "timed out",
            }
        ],
    )
    assert deployment_failure(stuck) == "ProgressDeadlineExceeded: timed out"
    # The same condition before the controller saw the latest spec is the previous rollout's.
    stale = {**stuck, "status": {**stuck["status"], "observedGeneration": 1}}
    assert deployment_failure(stale) is None
    assert deployment_failure(deployment(1)) is None
    pulling = {
        "status": {
            "containerStatuses": [
                {
                    "name": "app",
                    "state": {"waiting": {"reason": "ImagePullBackOff", "message": "no"}},
                }
            ]
        }
    }
    assert pod_failure(pulling) == ("ImagePullBackOff", "container app: no")
    starting = {
        "status": {
            "containerStatuses": [
                {"name": "app", "state": {"waiting": {"reason": "ContainerCreating"}}}
            ]
        }
    }
    assert pod_failure(starting) is None


def test_log_lines_round_trip_and_the_last_word_wins() -> None:
    view = RolloutView("web", desired=3, updated=3, ready=2, available=2)
    lines = [
        format_rollout_line(view),
        format_pod_line("web", "web-a", "Running"),
        format_outcome_line("web", "complete"),
    ]
    parsed = parse_rollout_lines("\n".join(lines))["web"]
    assert parsed.counts() == view.counts()
    assert parsed.pods == {"web-a": "Running"} and parsed.outcome == "complete"

    views = parse_rollout_lines(LOG)
    assert list(views) == ["web", "api"]
    assert views["web"].pods == {"web-a": "Running", "web-c": "CrashLoopBackOff"}
    assert (views["web"].ready, views["web"].outcome) == (2, "failed")
    assert views["api"].outcome == "complete"


def test_selectors_match_labels_as_the_api_server_does() -> None:
    selector = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}],
    }
    assert selector_matches(selector, {"app": "web", "tier": "front"})
    assert not selector_matches(selector, {"app": "web", "tier": "db"})
    assert not selector_matches({}, {"app": "web"})  # an empty selector selects nothing
    terms = parse_label_selector("app=web, tier notin (db,cache), release, !canary")
    assert labels_match(terms, {"app": "web", "tier": "front", "release": "1"})
    assert not labels_match(terms, {"app": "web", "tier": "cache", "release": "1"})
    assert not labels_match(terms, {"app": "web", "release": "1", "canary": "y"})
    with pytest.raises(Exception, match="label selector"):
        parse_label_selector("app=(web")


def test_the_rollout_view_shows_workloads_and_pods_from_a_growing_log(qtbot: Any) -> None:
    from PySide6.QtWidgets import QTreeWidget

    from qtqueue.core.task import Task, TaskType
    from qtqueue.families.kubernetes.qt import RolloutFeed, detail_widget

    pane = detail_widget()
    qtbot.addWidget(pane)
    assert pane.shows(Task(TaskType.K8S_DEPLOY, {}))
    assert not pane.shows(Task(TaskType.K8S_GET, {}))
    with qtbot.waitSignal(pane.updated):
        for start in range(0, len(LOG), 37):  # chunks cut lines anywhere
            pane.feed("t1", LOG[start : start + 37])
    pane.finish("t1")
    tree = pane.findChild(QTreeWidget, "rolloutView")
    rows = {}
    for i in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(i)
        rows[item.text(0)] = (
            [item.text(c) for c in range(1, 6)],
            {item.child(j).text(0): item.child(j).text(5) for j in range(item.childCount())},
        )
    assert rows["web"] == (
        ["3", "3", "2", "2", "failed"],
        {"web-a": "Running", "web-c": "CrashLoopBackOff"},
    )
    assert rows["api"][0] == ["1", "1", "1", "1", "complete"]
    assert pane.title() == "Rollout (2)"

    fed = RolloutFeed()
    for start in range(0, len(LOG), 5):
        fed.feed(LOG[start : start + 5])
    fed.finish()
    whole = parse_rollout_lines(LOG)
    assert {k: (v.counts(), v.pods, v.outcome) for k, v in fed.views.items()} == {
        k: (v.counts(), v.pods, v.outcome) for k, v in whole.items()
    }

    pane.reset()
    assert tree.topLevelItemCount() == 0 and pane.title() == "Rollout"


def test_only_the_pods_of_the_awaited_revision_are_judged() -> None:
    def pod(image: str, **labels: str) -> dict[str, Any]:
        return {
            "metadata": {"labels": {"app": "web", **labels}},
            "spec": {"containers": [{"name": "web", "image": image}]},
        }

    old = pod("web:1", **{"pod-template-hash": "a"})
    new = pod("web:2", **{"pod-template-hash": "b"})
    dep = {
        "metadata": {"name": "web", "generation": 2, "annotations": {REVISION_ANNOTATION: "2"}},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "web", "image": "web:2"}]}},
        },
        "status": {"observedGeneration": 2},
    }
    rs = [
        {"metadata": {"annotations": {REVISION_ANNOTATION: r}, "labels": {"app": "web", **h}}}
        for r, h in (("1", {"pod-template-hash": "a"}), ("2", {"pod-template-hash": "b"}))
    ]
    current = current_pods("Deployment", dep, rs)
    assert current is not None and current(new) and not current(old)
    # The current ReplicaSet not seen yet: no pod judged; ReplicaSets not served: by image.
    assert current_pods("Deployment", dep, rs[:1]) is None
    by_image = current_pods("Deployment", dep, None)
    assert by_image is not None and by_image(new) and not by_image(old)
    # Before the controller saw the latest spec: nothing to judge.
    assert current_pods("Deployment", {**dep, "status": {"observedGeneration": 1}}, rs) is None
    sts = {**dep, "status": {"observedGeneration": 2, "updateRevision": "web-7c"}}
    in_sts = current_pods("StatefulSet", sts, None)
    assert in_sts is not None and in_sts(pod("web:1", **{"controller-revision-hash": "web-7c"}))
    assert not in_sts(pod("web:2", **{"controller-revision-hash": "web-5f"}))
