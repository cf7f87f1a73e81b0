"""A task type's name as people read it: "Docker push" for `docker_push`. An executor may set
its own `title`; otherwise the title is made from the type name."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

#: Words a made-up title spells their own way.
_WORDS = {
    "api": "API", "cpu": "CPU", "csv": "CSV", "dns": "DNS", "gpu": "GPU", "http": "HTTP",
    "https": "HTTPS", "json": "JSON", "k8s": "Kubernetes", "pr": "PR", "sql": "SQL",
    "ssh": "SSH", "tcp": "TCP", "tls": "TLS", "url": "URL", "vast": "Vast.ai",
    "github": "GitHub",
}  # fmt: skip


def type_title(type_name: str, title: str = "") -> str:
    """`title` when set, else `type_name` in words: its first word capitalised, the rest as
    they are (known abbreviations and names spelled their way)."""
    if title:
        return title
    words = [w for w in type_name.replace("-", "_").split("_") if w]
    if not words:
        return type_name
    spelled = [_WORDS.get(w.casefold(), w) for w in words]
    first = spelled[0]
    spelled[0] = first if first != words[0] else first[:1].upper() + first[1:]
    return " ".join(spelled)
