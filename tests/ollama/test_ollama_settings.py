"""The ollama family's settings and its params' `host`: a server URL, never a login, and the
codes its texts classify to."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from qtqueue.core.errors import QueueError, classify_message
from qtqueue.families.ollama import OllamaSettings, family
from qtqueue.families.ollama.settings import DEFAULT_OLLAMA_HOST


def test_the_server_defaults_to_the_local_ollama_and_is_an_http_url() -> None:
    assert OllamaSettings().ollama_host == DEFAULT_OLLAMA_HOST == "http://127.0.0.1:11434"
    assert OllamaSettings(ollama_host="  ").ollama_host == DEFAULT_OLLAMA_HOST
    assert OllamaSettings(ollama_host="https://gpu-box:11434/").ollama_host == (
        "https://gpu-box:11434"
    )
    with pytest.raises(ValidationError, match="http:// or https:// URL"):
        OllamaSettings(ollama_host="gpu-box:11434")


def test_a_login_in_the_server_url_is_refused_without_echoing_it() -> None:
    secret = "hunter2-9c1d"
    with pytest.raises(ValidationError) as refused:
        OllamaSettings(ollama_host=f"http://me:{secret}@gpu-box:11434")
    assert "must not hold a user name or password" in str(refused.value.errors()[0]["msg"])
    pull = next(e for e in family.executors() if e.name == "ollama_pull")
    with pytest.raises(QueueError) as bad_param:
        pull.validate({"model": "llama3.2", "host": f"http://me:{secret}@gpu-box:11434"})
    assert secret not in str(bad_param.value) and secret not in repr(bad_param.value.details)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('model "llama3.2" not found, try pulling it first', "OLLAMA_MODEL_NOT_FOUND"),
        ("pull model manifest: file does not exist", "OLLAMA_MODEL_NOT_FOUND"),
        ("Error: could not connect to ollama app, is it running?", "OLLAMA_SERVICE_UNAVAILABLE"),
        ("ollama proxy: 401 Unauthorized", "OLLAMA_AUTHENTICATION_FAILED"),
    ],
)
def test_ollama_texts_classify_to_the_familys_codes(text: str, code: str) -> None:
    assert classify_message(text) == code
