"""`qtqueue config [get [KEY]] | set KEY=VALUE…`: the engine's settings, kept in the store.

```
qtqueue config                                   # every setting, one per line
qtqueue config get engine.max_concurrent         # one value
qtqueue config set engine.max_concurrent=2 docker.docker_host=unix:///run/docker.sock
```

KEY is `engine.<field>` for `EngineSettings`, `<family>.<field>` for a family's settings.
Through the `config_get` / `config_set` actions: a running engine applies a change at once; with
none running it is saved for the next one. A value is read as JSON when it parses (numbers,
true/false, objects), unless the setting holds text now; otherwise as text.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import TYPE_CHECKING, Any

from qtqueue.cli.output import out, print_json
from qtqueue.cli.parser import Subparsers, UsageError, add_command, json_flag
from qtqueue.core.errors import QueueError, TaskErrorCode

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 115


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `config` command."""
    p = add_command(
        sub,
        common,
        "config",
        "Show or change the engine's settings (kept in the store, applied at once).",
        epilog="examples:\n"
        "  qtqueue config\n"
        "  qtqueue config get engine.max_concurrent\n"
        "  qtqueue config set engine.max_concurrent=2 engine.retention_days=7",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", nargs="?", choices=["get", "set"], help="get (default) or set")
    p.add_argument("items", nargs="*", metavar="KEY[=VALUE]", help="engine.FIELD or FAMILY.FIELD")
    json_flag(p)
    p.set_defaults(handler=run, check=check)


def check(args: argparse.Namespace) -> None:
    """`set` takes KEY=VALUE items; `get` at most one KEY."""
    if args.action == "set" and not args.items:
        raise UsageError("config set: give KEY=VALUE (e.g. engine.max_concurrent=2)")
    if args.action == "set" and any("=" not in item for item in args.items):
        raise UsageError("config set: every item is KEY=VALUE")
    if args.action != "set" and len(args.items) > 1:
        raise UsageError("config get: one KEY at most")


def _flat(settings: dict[str, Any]) -> dict[str, Any]:
    """`{"engine": {...}, "families": {name: {...}}}` as `{"engine.f": v, "name.f": v}`."""
    flat = {f"engine.{k}": v for k, v in settings["engine"].items()}
    for family, fields in settings["families"].items():
        flat.update({f"{family}.{k}": v for k, v in fields.items()})
    return flat


def _unknown(key: str, known: dict[str, Any]) -> QueueError:
    return QueueError(
        TaskErrorCode.VALIDATION_INVALID_PARAMS,
        f"no setting {key!r}; settings: {', '.join(sorted(known))}",
        key=key,
    )


def _changes(items: list[str], now: dict[str, Any]) -> dict[str, Any]:
    """`config_set`'s params from KEY=VALUE items, each checked to name a setting."""
    params: dict[str, Any] = {"engine": {}, "families": {}}
    for item in items:
        key, _, raw = item.partition("=")
        key = key.strip()
        if key not in now:
            raise _unknown(key, now)
        value: Any = raw
        if not isinstance(now[key], str):
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw
        owner, _, field = key.partition(".")
        if owner == "engine":
            params["engine"][field] = value
        else:
            params["families"].setdefault(owner, {})[field] = value
    return params


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """Print the settings, one, or the ones just set."""
    settings = await backend.call("config_get")
    now = _flat(settings)
    if args.action == "set":
        settings = await backend.call("config_set", _changes(args.items, now))
        now = _flat(settings)
        keys = [item.partition("=")[0].strip() for item in args.items]
    elif args.items:
        if args.items[0] not in now:
            raise _unknown(args.items[0], now)
        keys = args.items[:1]
    else:
        keys = sorted(now)
    if args.json:
        whole = args.action != "set" and not args.items
        print_json(settings if whole else {k: now[k] for k in keys})
        return 0
    if args.action != "set" and args.items:
        out(_shown(now[keys[0]]))
        return 0
    for key in keys:
        out(f"{key} = {_shown(now[key])}")
    return 0
