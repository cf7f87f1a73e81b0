"""Task types read as words: the titles the window's column, filter and form show."""

from __future__ import annotations

from qtqueue.core.type_titles import type_title
from qtqueue.executors import default_registry


def test_a_type_without_a_title_reads_as_words() -> None:
    assert type_title("docker_push") == "Docker push"
    assert type_title("k8s_deploy") == "Kubernetes deploy"
    assert type_title("github_create_repo") == "GitHub create repo"


def test_an_executor_title_wins_over_the_made_up_one() -> None:
    assert type_title("custom_command", "Shell command") == "Shell command"


def test_every_built_in_type_has_a_title_without_underscores() -> None:
    titles = default_registry(entry_points=False).titles()
    assert titles and all(t and "_" not in t for t in titles.values())
