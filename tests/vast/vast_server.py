"""A local server of the suite's own that speaks Vast.ai's REST API on 127.0.0.1, as the
official `vastai` CLI (1.9) calls it: `POST /api/v0/bundles/` (offer search), `PUT
/api/v0/asks/{offer}/` (rent), `GET /api/v0/instances/{id}/?owner=me` (`{"instances": null}` once
gone), `GET /api/v1/instances/` (pages with `next_token`), `GET /api/v0/instances/filters/`,
`DELETE /api/v0/instances/{id}/`. Answers carry `Content-Type: application/json` exactly (the
CLI checks it) and errors Vast's `{"success": false, "error": ..., "msg": ...}`.

It is stateful and driven by the test, never by time: a new instance has no actual_status until
the test moves it on (`set_status`), and with `linger_on_destroy` a destroyed one stays listed
until the test lets it go (`forget`).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_OPS = {
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and a > b,
    "gte": lambda a, b: a is not None and a >= b,
    "lt": lambda a, b: a is not None and a < b,
    "lte": lambda a, b: a is not None and a <= b,
    "in": lambda a, b: a in b,
    "notin": lambda a, b: a not in b,
}
#: Keys of a search query that are not filters.
_NOT_FILTERS = {"order", "type", "limit", "allocated_storage", "disable_bundling"}


def offer(offer_id: int, gpu: str, n: int, price: float, **more: Any) -> dict[str, Any]:
    """An offer row with the fields the CLI's table shows."""
    row: dict[str, Any] = {
        "id": offer_id,
        "ask_contract_id": offer_id,
        "machine_id": 1000 + offer_id,
        "host_id": 77,
        "gpu_name": gpu,
        "num_gpus": n,
        "dph_total": price,
        "dph_base": price,
        "reliability": 0.99,
        "reliability2": 0.99,
        "disk_space": 200.0,
        "gpu_ram": 24576,
        "cpu_ram": 65536,
        "cpu_cores_effective": 16.0,
        "cpu_ghz": 3.5,
        "cuda_max_good": 12.4,
        "pcie_bw": 25.0,
        "dlperf": 50.0,
        "dlperf_per_dphtotal": 50.0 / price,
        "score": 100.0 - price,
        "driver_version": "550.54.15",
        "inet_up": 800.0,
        "inet_down": 900.0,
        "duration": 30 * 86400.0,
        "verification": "verified",
        "verified": True,
        "external": False,
        "rentable": True,
        "rented": False,
        "direct_port_count": 10,
        "geolocation": "SE",
    }
    row.update(more)
    return row


def _like(have: Any, value: Any) -> Any:
    """A query value as the type of the field it is compared with: the CLI sends numbers typed
    on its command line as strings ("dph<1.0" gives {"lt": "1.0"}), and the API compares them
    as numbers."""
    if isinstance(value, list):
        return [_like(have, v) for v in value]
    if not isinstance(value, str):
        return value
    if isinstance(have, bool):
        return value.lower() == "true"
    if isinstance(have, int | float):
        try:
            return float(value)
        except ValueError:
            return value
    return value


@dataclass
class VastServer:
    """The API's state and the aiohttp app answering from it."""

    api_key: str
    offers: list[dict[str, Any]]
    #: Dollars left: a rent with less than one hour's price is refused for lack of credit.
    credit: float = 100.0
    linger_on_destroy: bool = False
    instances: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: Every search query and create body received, in order.
    queries: list[dict[str, Any]] = field(default_factory=list)
    creates: list[dict[str, Any]] = field(default_factory=list)
    #: Every request's path and query string (to check that no key travels in a URL).
    urls: list[str] = field(default_factory=list)
    #: Route name ("search", "create", "show", "destroy", "list") -> the error it answers
    #: instead: (HTTP status, error slug, message).
    fail: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    #: Route name -> an event the request waits for before it is handled (a slow server).
    hold: dict[str, asyncio.Event] = field(default_factory=dict)
    #: Route name -> an event the answer waits for AFTER the request was handled (what it
    #: did is done, the answer comes late).
    late: dict[str, asyncio.Event] = field(default_factory=dict)
    #: A broken server: every list page hands back the same next_token.
    stuck_paging: bool = False
    #: Route names of requests that arrived, in order.
    calls: list[str] = field(default_factory=list)
    next_id: int = 5000
    url: str = ""
    runner: web.AppRunner | None = None

    # --- driven by the test --------------------------------------------------------------

    def set_status(self, instance_id: int, actual: str | None, message: str = "") -> None:
        """Move an instance on (None, "loading", "running", "exited"...)."""
        row = self.instances[instance_id]
        row["actual_status"] = actual
        row["cur_state"] = "running" if actual == "running" else row["cur_state"]
        row["status_msg"] = message

    def rent(self, found: dict[str, Any], body: dict[str, Any]) -> int:
        """Rent an offer with a create body (as `PUT /asks/{offer}/` does): the instance id."""
        found["rented"] = True
        instance_id = self.next_id
        self.next_id += 1
        self.instances[instance_id] = {
            "id": instance_id,
            "machine_id": found["machine_id"],
            "gpu_name": found["gpu_name"],
            "num_gpus": found["num_gpus"],
            "dph_total": found["dph_total"],
            "image_uuid": body["image"],
            "label": body.get("label"),
            "disk_space": body["disk"],
            "actual_status": None,
            "intended_status": "running",
            "cur_state": "stopped",
            "next_state": "running",
            "status_msg": "",
            "start_date": time.time(),
            "extra_env": [[k, v] for k, v in (body.get("env") or {}).items()],
            "public_ipaddr": "192.0.2.10",
            "ssh_host": "ssh5.vast.ai",
            "ssh_port": 20000 + instance_id % 1000,
            "geolocation": found["geolocation"],
            "verification": "verified",
        }
        return instance_id

    def forget(self, instance_id: int) -> None:
        """A destroyed (lingering) instance is gone at last."""
        self.instances.pop(instance_id, None)

    # --- the app -------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self._auth])
        app.add_routes(
            [
                web.post("/api/v0/bundles/", self._search, name="search"),
                web.put("/api/v0/asks/{offer}/", self._create, name="create"),
                web.get("/api/v0/instances/filters/", self._filters, name="filters"),
                web.get("/api/v0/instances/{id}/", self._show, name="show"),
                web.delete("/api/v0/instances/{id}/", self._destroy, name="destroy"),
                web.get("/api/v1/instances/", self._list, name="list"),
            ]
        )
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    @staticmethod
    def _json(body: Any, status: int = 200) -> web.Response:
        return web.Response(
            body=json.dumps(body).encode(),
            status=status,
            headers={"Content-Type": "application/json"},
        )

    def _error(self, status: int, error: str, msg: str) -> web.Response:
        return self._json({"success": False, "error": error, "msg": msg}, status)

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.urls.append(str(request.rel_url))
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(401, "auth_error", "Invalid user key")
        route = request.match_info.route.name or ""
        self.calls.append(route)
        if route in self.hold:
            await self.hold[route].wait()
        if route in self.fail:
            return self._error(*self.fail[route])
        response: web.StreamResponse = await handler(request)
        if route in self.late:
            await self.late[route].wait()
        return response

    async def _search(self, request: web.Request) -> web.Response:
        query = await request.json()
        self.queries.append(query)
        rows = [o for o in self.offers if self._matches(o, query)]
        for col, direction in reversed(query.get("order") or []):
            rows.sort(key=lambda o, c=col: o.get(c) or 0, reverse=direction == "desc")
        if query.get("limit"):
            rows = rows[: int(query["limit"])]
        return self._json({"offers": rows})

    @staticmethod
    def _matches(row: dict[str, Any], query: dict[str, Any]) -> bool:
        for key, ops in query.items():
            if key in _NOT_FILTERS or not isinstance(ops, dict):
                continue
            for op, value in ops.items():
                if key in row and not _OPS[op](row[key], _like(row[key], value)):
                    return False
        return True

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.creates.append(body)
        offer_id = int(request.match_info["offer"])
        found = next((o for o in self.offers if o["id"] == offer_id and not o["rented"]), None)
        if found is None:
            return self._error(
                404, "no_such_ask", f"Instance type by id {offer_id} is not available."
            )
        if self.credit < found["dph_total"]:
            return self._error(
                402,
                "insufficient_credit",
                "Your account lacks credit; add credit on the billing page.",
            )
        instance_id = self.rent(found, body)
        return self._json({"success": True, "new_contract": instance_id})

    async def _show(self, request: web.Request) -> web.Response:
        row = self.instances.get(int(request.match_info["id"]))
        return self._json({"instances": row})

    async def _filters(self, request: web.Request) -> web.Response:
        return self._json({"filters": []})

    async def _list(self, request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", "25"))
        start = int(request.query.get("after_token") or 0)
        rows = sorted(self.instances.values(), key=lambda r: r["id"])
        page = rows[start : start + limit]
        more = start + limit < len(rows)
        return self._json(
            {
                "instances": page,
                "next_token": "25" if self.stuck_paging else str(start + limit) if more else None,
                "total_instances": len(rows),
                "label_counts": {},
            }
        )

    async def _destroy(self, request: web.Request) -> web.Response:
        instance_id = int(request.match_info["id"])
        row = self.instances.get(instance_id)
        if row is None:
            return self._error(404, "no_such_instance", f"Instance {instance_id} not found.")
        if self.linger_on_destroy:
            row.update(intended_status="stopped", next_state="stopped", status_msg="destroying")
        else:
            self.forget(instance_id)
        return self._json({"success": True})


#: The account's key, and the keyring entry the tasks read it from.
API_KEY = "vastkey-0f9c2d7e51ab4c38"
KEYRING_NAME = "vast-test-key"


def offers() -> list[dict[str, object]]:
    """The market the server offers: two RTX 4090 offers, a small-disk RTX 3090, an 8x H100."""
    return [
        offer(101, "RTX 4090", 1, 0.45),
        offer(102, "RTX 4090", 2, 0.95, reliability=0.97),
        offer(103, "RTX 3090", 1, 0.20, disk_space=50.0),
        offer(104, "H100 SXM", 8, 18.5),
    ]
