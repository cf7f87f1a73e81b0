"""The agent command template: an argv whose elements may be placeholders for the work order.

A template is a list of arguments, run without a shell (unless the template itself names one,
e.g. `["sh", "-c", "my-agent \"$1\"", "sh", "{prompt}"]`). A placeholder is a whole element,
`{name}`, and becomes one argument (`{files}` and `{requirements}` one per item, or none);
nothing is ever interpolated into the text of another element, so no value of a work order can
become shell syntax or another option. `{{` and `}}` are a literal brace. An element holding a
placeholder and other text, or naming no known placeholder, is refused when the template is
set, naming the element.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence

logger = logging.getLogger(__name__)

__all__ = ["LIST_PLACEHOLDERS", "PLACEHOLDERS", "check_template", "fill_template"]

#: Placeholders that stand for one argument, and what each is.
PLACEHOLDERS: Mapping[str, str] = {
    "prompt": "the whole work order as one text: kind, title, description, requirements, files",
    "title": "the title",
    "description": "the description",
    "task_type": "the kind of work (feature, bugfix, test, docs, refactor, review)",
    "repository": "the repository path or URL",
    "branch": "the branch the work starts from",
    "work_branch": "the branch the worktree is on (work-order/<id>)",
    "worktree": "the worktree's folder (also the agent's working directory)",
    "issue_number": "the issue number (empty when none)",
    "pr_number": "the pull request number (empty when none)",
    "work_order_id": "the work order's id",
    "task_id": "the qtqueue task's id",
    "work_order_file": "a JSON file with the whole work order (also $QTQUEUE_WORK_ORDER)",
}
#: Placeholders that stand for one argument per item.
LIST_PLACEHOLDERS: Mapping[str, str] = {
    "files": "one argument per file the work order names",
    "requirements": "one argument per requirement",
}

_WHOLE = re.compile(r"\{([a-z_]+)\}")
_ANY = re.compile(r"\{([^{}]*)\}")


def _literal(element: str) -> str:
    """`element` without a placeholder: braces doubled are literal ones; a single one is an
    error (it looks like a placeholder that was not meant as one, or was mistyped)."""
    rest = element.replace("{{", "").replace("}}", "")
    found = _ANY.search(rest)
    if found is not None:
        name = found.group(1)
        if name in PLACEHOLDERS or name in LIST_PLACEHOLDERS:
            raise ValueError(
                f"argument {element!r}: a placeholder must be a whole argument of its own "
                f"({{{name}}} alone), never part of another's text"
            )
        raise ValueError(f"argument {element!r}: unknown placeholder {{{name}}}; {_known()}")
    if "{" in rest or "}" in rest:
        raise ValueError(f"argument {element!r}: a lone brace; write {{{{ or }}}} for a brace")
    return element.replace("{{", "{").replace("}}", "}")


def _known() -> str:
    return "known: " + ", ".join(f"{{{n}}}" for n in (*PLACEHOLDERS, *LIST_PLACEHOLDERS))


def check_template(template: Sequence[str]) -> list[str]:
    """`template` if it is a valid agent command template (see the module docstring), else
    ValueError naming the bad element. An empty template is valid (no agent is set)."""
    elements = list(template)
    if elements and not elements[0].strip():
        raise ValueError("the first argument (the program) is empty")
    for element in elements:
        whole = _WHOLE.fullmatch(element)
        if whole is not None:
            if whole.group(1) not in PLACEHOLDERS and whole.group(1) not in LIST_PLACEHOLDERS:
                raise ValueError(f"argument {element!r}: unknown placeholder; {_known()}")
            continue
        _literal(element)
    if elements and _WHOLE.fullmatch(elements[0]):
        raise ValueError("the first argument must name the agent program, not a placeholder")
    return elements


def fill_template(
    template: Sequence[str], values: Mapping[str, str], lists: Mapping[str, Sequence[str]]
) -> list[str]:
    """The argv of a checked `template`, each placeholder replaced by its value (`values`) or
    values (`lists`)."""
    argv: list[str] = []
    for element in check_template(template):
        whole = _WHOLE.fullmatch(element)
        if whole is None:
            argv.append(_literal(element))
        elif whole.group(1) in LIST_PLACEHOLDERS:
            argv.extend(lists.get(whole.group(1), ()))
        else:
            argv.append(values.get(whole.group(1), ""))
    return argv
