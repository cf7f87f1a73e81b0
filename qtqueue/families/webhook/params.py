"""The CUSTOM_WEBHOOK params: what a user fills in the form first (URL, method, body), then
headers, signing, retries and connection options."""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from qtqueue.executors.base import Params
from qtqueue.executors.webhooks import (
    DEFAULT_SIGNATURE_HEADER,
    DEFAULT_SIGNATURE_PREFIX,
    url_problem,
)

logger = logging.getLogger(__name__)

__all__ = ["Method", "WebhookParams", "check_url", "header_problem"]

Method = Literal["POST", "GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


#: A header name: an RFC 9110 token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: What a header value must not hold: control characters (a tab aside), CR and LF included.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def header_problem(name: str, value: str) -> str | None:
    """Why `name: value` cannot be sent as a request header (None: it can). The message names
    the header, never its value (a token may have been pasted there)."""
    if not _TOKEN.fullmatch(name):
        return f"{name!r} is not a header name (letters, digits and !#$%&'*+-.^_`|~ only)"
    if _CONTROL.search(value):
        return (
            f"the value of header {name!r} holds a control character (a line break?), which "
            "cannot be sent; remove it"
        )
    return None


def check_url(url: str, what: str = "url") -> str:
    """`url` stripped, if it is an http(s) URL without a user name or password."""
    problem = url_problem(url, what)
    if problem is not None:
        raise ValueError(problem.removeprefix(f"{what}: "))
    return url.strip()


class WebhookParams(Params):
    """One HTTP request: where, how, what body; the response is the task's result."""

    url: str = Field(description="The URL to call, e.g. https://example.org/hooks/deploy")
    method: Method = Field("POST", description="The HTTP method")
    body_json: Any = Field(
        None,
        description="A JSON body (object, list or value), sent as application/json",
        json_schema_extra={"widget": "multiline"},
    )
    body_text: str | None = Field(
        None,
        description="A raw text body, sent as it is (UTF-8); set content_type to say what it is",
        json_schema_extra={"widget": "multiline"},
    )
    body_file: str | None = Field(
        None,
        description="A file whose bytes are the body",
        json_schema_extra={"widget": "file"},
    )
    content_type: str | None = Field(
        None, description="The Content-Type header (default: from the body's kind)"
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra request headers (put no secret here: use authorization_keyring_entry)",
    )
    query: dict[str, str] = Field(
        default_factory=dict, description="Query parameters added to the URL"
    )
    expected_status: list[int] = Field(
        default_factory=list,
        description="The status codes that mean success (default: any 2xx)",
    )
    timeout_s: float = Field(
        30.0, gt=0, le=3600, description="Seconds one attempt may take, connect to last byte"
    )
    signing_keyring_entry: str | None = Field(
        None,
        description="Name of a keyring entry holding the HMAC secret: the body is signed with "
        "HMAC-SHA256 and the hex digest sent in signature_header",
    )
    signature_header: str = Field(
        DEFAULT_SIGNATURE_HEADER, description="The header that carries the signature"
    )
    signature_prefix: str = Field(
        DEFAULT_SIGNATURE_PREFIX, description="What precedes the hex digest in that header"
    )
    authorization_keyring_entry: str | None = Field(
        None,
        description="Name of a keyring entry whose value is sent as the Authorization header "
        "(e.g. 'Bearer abc…')",
    )
    attempts: int = Field(
        3,
        ge=1,
        le=20,
        description="Tries in all: connection errors, time-outs, 429 and 5xx are retried, "
        "other 4xx never",
    )
    backoff_s: float = Field(
        1.0, ge=0, le=600, description="Wait before the 2nd try, doubled each try after"
    )
    max_retry_after_s: float = Field(
        120.0,
        ge=0,
        le=3600,
        description="The longest wait a server's Retry-After may ask for (longer: capped)",
    )
    proxy: str | None = Field(None, description="An HTTP proxy URL, e.g. http://proxy:3128")
    verify_tls: bool = Field(True, description="Check the server's TLS certificate")

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        return check_url(url)

    @field_validator("proxy")
    @classmethod
    def _proxy(cls, proxy: str | None) -> str | None:
        if proxy is None or not proxy.strip():
            return None
        return check_url(proxy, "proxy")

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        problems = [p for k, v in headers.items() if (p := header_problem(k, v))]
        if problems:
            raise ValueError("; ".join(problems))
        return headers

    @field_validator("signature_header")
    @classmethod
    def _signature_header(cls, name: str) -> str:
        if (problem := header_problem(name, "")) is not None:
            raise ValueError(problem)
        return name

    @field_validator("content_type", "signature_prefix")
    @classmethod
    def _header_value(cls, value: str | None) -> str | None:
        if value is not None and _CONTROL.search(value):
            raise ValueError("holds a control character (a line break?), which cannot be sent")
        return value

    @field_validator("expected_status")
    @classmethod
    def _statuses(cls, codes: list[int]) -> list[int]:
        bad = [c for c in codes if not 100 <= c <= 599]
        if bad:
            raise ValueError(f"not HTTP status codes: {bad}")
        return codes

    @model_validator(mode="after")
    def _one_body(self) -> WebhookParams:
        given = [
            name
            for name, value in (
                ("body_json", self.body_json),
                ("body_text", self.body_text),
                ("body_file", self.body_file),
            )
            if value is not None
        ]
        if len(given) > 1:
            raise ValueError(f"give one body, not {' and '.join(given)}")
        return self

    def expects(self, status: int) -> bool:
        """Whether `status` is a success for this request."""
        if self.expected_status:
            return status in self.expected_status
        return 200 <= status < 300
