"""Task templates: named task definitions kept in the data directory (`templates.json`, 0600),
not in the window's settings, so every face of qtqueue can start tasks from them.

A template is a definition (`task_files.definition`: type, params, category, tags, priority,
queue, timeout, retries, resources, approval…; never an id, a history or a secret). The file is
rewritten whole through a temporary file and a rename, so a crash never leaves half of it.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qtqueue.api.task_files import DEFINITION_FIELDS, definition
from qtqueue.api.task_import import checked_definition
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task
from qtqueue.executors import ExecutorRegistry

logger = logging.getLogger(__name__)

TEMPLATES_FILE = "templates.json"
MAX_NAME = 120


@dataclass(frozen=True, slots=True)
class Template:
    """One saved definition under a name."""

    name: str
    task: dict[str, Any]

    def new_task(self, registry: ExecutorRegistry | None = None) -> Task:
        """A new task (a fresh id) built from the definition, checked as adding would check
        it (with `registry`: its type and params too); fields it does not know are dropped (a
        template written by a newer qtqueue). QueueError (the problem) if it cannot be one."""
        data = {k: v for k, v in self.task.items() if k in DEFINITION_FIELDS}
        return checked_definition(data, registry)


def _checked_name(name: str) -> str:
    text = " ".join(name.split())
    if not text:
        raise QueueError(
            TaskErrorCode.VALIDATION_MISSING_REQUIRED,
            "a template needs a name: type one, e.g. “Nightly backup”.",
        )
    if len(text) > MAX_NAME:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"a template name is at most {MAX_NAME} characters: shorten it.",
        )
    return text


class TemplateStore:
    """The templates of the data directory `data_dir`, read afresh on each call (another
    window or the command line may have changed them). With `registry`, a template's type
    and params are checked too when a task is made from it (`new_task`)."""

    def __init__(self, data_dir: Path, registry: ExecutorRegistry | None = None) -> None:
        self.path = Path(data_dir) / TEMPLATES_FILE
        self.registry = registry

    def new_task(self, template: Template) -> Task:
        """A new task from `template`, checked; QueueError DATA_FILE_CORRUPTED naming the
        template, the problem and the fix when the file holds a value it cannot take (edited
        by hand, or by a newer qtqueue)."""
        try:
            return template.new_task(self.registry)
        except QueueError as exc:
            raise self._broken(
                f"holds a template “{template.name}” that cannot make a task ({exc.message})",
                "correct it there, or delete that template (Tasks › New from template › "
                "Manage templates…) and save it again from a task",
            ) from None

    def all(self) -> list[Template]:
        """Every template, by name (case-insensitive); none when the file does not exist.
        QueueError DATA_FILE_CORRUPTED (its path and the fix) if it cannot be read."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise self._broken(f"cannot be read ({exc.strerror})") from None
        try:
            doc = json.loads(text)
            items = doc["templates"]
            found = [Template(str(i["name"]), dict(i["task"])) for i in items]
        except (ValueError, KeyError, TypeError) as exc:
            raise self._broken(f"is not a template list ({exc})") from None
        return sorted(found, key=lambda t: t.name.casefold())

    def names(self) -> list[str]:
        """The templates' names, as `all()` orders them."""
        return [t.name for t in self.all()]

    def get(self, name: str) -> Template:
        """The template `name`; QueueError VALIDATION_INVALID_PARAMS if there is none."""
        for template in self.all():
            if template.name == name:
                return template
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"no template is named “{name}”: choose one of {', '.join(self.names()) or 'none'}.",
        )

    def save(self, name: str, task: Task, *, replace: bool = False) -> Template:
        """Store `task`'s definition as `name`. A name in use is refused unless `replace`."""
        name = _checked_name(name)
        templates = [t for t in self.all() if t.name != name or not replace]
        if any(t.name == name for t in templates):
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS,
                f"a template named “{name}” exists: choose another name, or rename or delete "
                "that one (Tasks › New from template › Manage templates…).",
            )
        template = Template(name, definition(task))
        self._write([*templates, template])
        logger.info("template %r saved (%s)", name, task.type_name)
        return template

    def rename(self, old: str, new: str) -> Template:
        """Give the template `old` the name `new` (refused if `new` is taken)."""
        new = _checked_name(new)
        found = self.get(old)
        others = [t for t in self.all() if t.name != old]
        if new != old and any(t.name == new for t in others):
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS,
                f"a template named “{new}” exists: choose another name.",
            )
        renamed = Template(new, found.task)
        self._write([*others, renamed])
        return renamed

    def delete(self, name: str) -> None:
        """Forget the template `name` (QueueError if there is none)."""
        self.get(name)
        self._write([t for t in self.all() if t.name != name])

    def _write(self, templates: list[Template]) -> None:
        doc = {"version": 1, "templates": [{"name": t.name, "task": t.task} for t in templates]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(doc, out, indent=2, ensure_ascii=False)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, self.path)

    def _broken(
        self, why: str, fix: str = "move it aside (qtqueue starts a new one) or correct it"
    ) -> QueueError:
        return QueueError(
            TaskErrorCode.DATA_FILE_CORRUPTED,
            f"the templates file {self.path} {why}: {fix}.",
            path=str(self.path),
        )
