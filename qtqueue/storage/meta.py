"""Typed values in the store's meta table: a pydantic model saved as one JSON text per key.

The meta table holds small engine settings as text (`TaskStore.get_meta` / `set_meta`). Here a
value is a pydantic model: `save_model` writes it, `parse_model` reads back what `get_meta`
returned and never fails on what was stored — a value that is not JSON, or no longer fits the
model, gives None and a logged warning naming the key, so the caller falls back to its defaults.
`peek_meta` reads values from a store file before any engine has opened it (settings are
applied before the first task starts).
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Protocol, TypeVar

from pydantic import BaseModel, ValidationError

logger = logging.getLogger(__name__)

__all__ = ["MetaStore", "parse_model", "peek_meta", "save_model"]

M = TypeVar("M", bound=BaseModel)


class MetaStore(Protocol):
    """The part of a `TaskStore` that keeps small settings."""

    async def get_meta(self, key: str) -> str | None:
        """The text stored under `key`, or None."""

    async def set_meta(self, key: str, value: str) -> None:
        """Store `value` under `key` (durable on return)."""


def parse_model(raw: str | None, key: str, model: type[M]) -> M | None:
    """The model `raw` (the text stored under `key`) holds; None when nothing is stored, and
    None with a warning when the text is not JSON or does not fit the model."""
    if raw is None:
        return None
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        logger.warning(
            "the saved %s (%s) cannot be used, defaults apply instead: %s",
            key,
            model.__name__,
            "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
            ),
        )
        return None


async def save_model(store: MetaStore, key: str, value: BaseModel) -> None:
    """Save the fields of `value` that were set (so a default changed in a later version
    still applies to what the user never chose); durable on return."""
    await store.set_meta(key, value.model_dump_json(exclude_unset=True))


def peek_meta(db_path: Path, keys: list[str]) -> dict[str, str]:
    """The values stored under `keys` in the store file at `db_path`, read before an engine
    opens it; keys with no value are left out. Never creates or changes the file: a missing,
    unreadable or older file (no meta table) gives what could be read, with a warning for
    anything but a missing file."""
    if not db_path.exists():
        return {}
    try:
        with closing(sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True)) as db:
            marks = ", ".join("?" * len(keys))
            rows = db.execute(f"SELECT key, value FROM meta WHERE key IN ({marks})", keys)
            return {str(k): str(v) for k, v in rows}
    except sqlite3.Error as exc:
        logger.warning("the saved settings in %s cannot be read (%s); defaults apply", db_path, exc)
        return {}
