"""Specification of the open error catalog: codes and message rules as TOML data, registered by
owner (the core, then each family), and a plug-in's code kept end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from qtqueue.core.errors import (
    CATALOG,
    CORE_OWNER,
    ErrorCatalog,
    ErrorCode,
    QueueError,
    TaskErrorCode,
    parse_catalog,
)

FAMILY_TOML = """
[codes.ACME_WIDGET_JAMMED]
description = "The widget jammed."
suggestion = "Clear the jam and retry."
retryable = true

[[rules]]
pattern = 'widget .*jammed'
code = "ACME_WIDGET_JAMMED"

[[refine]]
rule = "credentials-refused"
pattern = '\\bacme\\b'
code = "ACME_WIDGET_JAMMED"
"""


def core_only() -> ErrorCatalog:
    catalog = ErrorCatalog()
    catalog.register_file(CORE_OWNER, resources.files("qtqueue.core") / "errors.toml")
    return catalog


def test_the_core_file_names_only_well_formed_codes_with_sentences() -> None:
    data = tomllib.loads((resources.files("qtqueue.core") / "errors.toml").read_text())
    for code, entry in data["codes"].items():
        assert code == code.upper()
        for key in ("description", "suggestion"):
            assert entry[key].endswith("."), (code, key)
        assert isinstance(entry["retryable"], bool)
    for rule in data["rules"]:
        assert rule["code"] in data["codes"]  # the core's rules give the core's codes


def test_a_family_registers_its_codes_and_rules_and_they_are_tried_first() -> None:
    catalog = core_only()
    text = "the widget is jammed: connection refused"
    assert catalog.classify_message(text) is TaskErrorCode.NETWORK_CONNECTION_FAILED
    parsed = parse_catalog(FAMILY_TOML, "acme errors.toml")
    catalog.register("acme", parsed.infos, parsed.rules, parsed.refinements)
    code = catalog.classify_message(text)
    assert code == "ACME_WIDGET_JAMMED" and isinstance(code, ErrorCode)
    assert catalog.owner_of("ACME_WIDGET_JAMMED") == "acme"
    assert catalog.info("acme_widget_jammed").suggestion == "Clear the jam and retry."
    # A refinement adds a context to the core's credential rule.
    assert catalog.classify_message("unauthorized: acme says no") == "ACME_WIDGET_JAMMED"
    assert catalog.classify_message("unauthorized") is TaskErrorCode.SYSTEM_PERMISSION_DENIED

    catalog.unregister("acme")
    assert "ACME_WIDGET_JAMMED" not in catalog
    assert catalog.classify_message(text) is TaskErrorCode.NETWORK_CONNECTION_FAILED
    assert catalog.classify_message("unauthorized: acme says no") == "SYSTEM_PERMISSION_DENIED"


def test_a_code_another_owner_registered_is_refused_and_an_owner_registers_once() -> None:
    catalog = core_only()
    parsed = parse_catalog(FAMILY_TOML)
    catalog.register("acme", parsed.infos, parsed.rules)
    catalog.register("acme", parsed.infos, parsed.rules)  # a second registry: a no-op
    with pytest.raises(ValueError, match=r"ACME_WIDGET_JAMMED of 'other' .* by 'acme'"):
        catalog.register("other", parsed.infos)
    core = parse_catalog((resources.files("qtqueue.core") / "errors.toml").read_text())
    with pytest.raises(ValueError, match="already registered by 'core'"):
        catalog.register("thief", core.infos[:1])
    with pytest.raises(ValueError):
        catalog.unregister(CORE_OWNER)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[codes.lower_case]\ndescription = 'x.'\nsuggestion = 'y.'", "not an error code"),
        ("[codes.NO_SUGGESTION]\ndescription = 'x.'", "'suggestion' must be"),
        ("[[rules]]\npattern = '('\ncode = 'X_Y'", "bad pattern"),
        ("[[rules]]\npattern = 'x'", "is not an error code"),
        ("codes = [", "errors.toml"),
    ],
)
def test_a_malformed_file_is_refused_naming_where(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_catalog(text, "errors.toml")


def test_the_catalog_is_read_only_as_a_mapping() -> None:
    with pytest.raises(TypeError):
        CATALOG["X"] = CATALOG[TaskErrorCode.UNKNOWN_ERROR]  # type: ignore[index]


CLIENT = """
import json, sys
from qtqueue.core.errors import QueueError
err = QueueError.from_dict(json.loads(sys.stdin.read()))
print(json.dumps({"repr": repr(err), **err.to_dict()}))
"""


def test_a_client_that_never_loaded_the_plug_in_keeps_its_code_and_texts() -> None:
    """What an engine sends about a plug-in's error reads back the same in a process (the CLI)
    that has not loaded the plug-in, instead of collapsing to UNKNOWN_ERROR."""
    sent = {
        "code": "ACME_WIDGET_JAMMED",
        "message": "widget 3 jammed",
        "description": "The widget jammed.",
        "suggestion": "Clear the jam and retry.",
        "retryable": True,
        "details": {"widget": 3},
    }
    done = subprocess.run(
        [sys.executable, "-c", CLIENT],
        input=json.dumps(sent), capture_output=True, text=True, timeout=60, check=True,
        cwd=Path(__file__).parent,
    )  # fmt: skip
    got = json.loads(done.stdout)
    assert got.pop("repr").startswith("QueueError(ACME_WIDGET_JAMMED, 'widget 3 jammed'")
    assert got == sent


def test_an_unregistered_code_raised_in_process_still_becomes_unknown_error() -> None:
    err = QueueError("ACME_NEVER_REGISTERED", "boom")
    assert err.code is TaskErrorCode.UNKNOWN_ERROR
    assert err.details == {"original_code": "ACME_NEVER_REGISTERED"}
