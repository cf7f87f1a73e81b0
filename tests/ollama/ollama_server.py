"""A local server of the suite's own that speaks Ollama's documented REST API (docs/api.md of
github.com/ollama/ollama) on 127.0.0.1: streamed NDJSON for /api/pull, /api/generate and
/api/chat; /api/tags, /api/ps, /api/version, /api/show and /api/embed as single objects;
errors as `{"error": "..."}` with the status codes Ollama gives (404 for an unknown model).

No Ollama binary exists for these machines, so this stands in for `ollama serve`. What a test
needs to see is real here: a pull downloads each layer's bytes from its "registry" chunk by
chunk, and keeps the partial bytes of a layer when the client goes away, so a second pull of
the same model continues from there, as Ollama does. The test paces the bytes and the tokens:
with `hold()`, nothing moves until `allow(n)` lets n more chunks go (no timing involved).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

#: Bytes a pull status reports per chunk.
CHUNK_BYTES = 4096
VERSION = "0.6.5"
#: The version string a model's details report.
_DETAILS = {
    "parent_model": "",
    "format": "gguf",
    "family": "llama",
    "families": ["llama"],
    "parameter_size": "135M",
    "quantization_level": "Q4_1",
}


def blob_digest(model: str, index: int) -> str:
    """The sha256 digest of a layer of `model`."""
    return "sha256:" + hashlib.sha256(f"{model}/{index}".encode()).hexdigest()


def embedding_of(text: str, dims: int) -> list[float]:
    """A deterministic unit vector for a text (its SHA-256 stretched over `dims` numbers)."""
    raw = hashlib.sha256(text.encode()).digest() * (dims // 32 + 1)
    values = [(b - 127.5) / 127.5 for b in raw[:dims]]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]


def answer_to(prompt: str) -> str:
    """What the server's model answers: the same words for the same prompt, three lines."""
    return f"You said: {prompt}\nThat is {len(prompt.split())} words.\nGoodbye."


@dataclass
class LibraryModel:
    """A model of the "registry" a pull downloads from: its layers' sizes."""

    name: str
    layer_sizes: list[int]

    @property
    def digests(self) -> list[str]:
        return [blob_digest(self.name, i) for i in range(len(self.layer_sizes))]

    @property
    def size(self) -> int:
        return sum(self.layer_sizes)


@dataclass
class PullRequest:
    """One /api/pull the server received: the bytes it already had of each layer then."""

    model: str
    start_offsets: dict[str, int]


@dataclass
class OllamaServer:
    """The server's state: the registry it pulls from, the models it has, the partial layers
    it keeps, and what it was asked (for the tests' assertions)."""

    library: dict[str, LibraryModel] = field(default_factory=dict)
    installed: dict[str, LibraryModel] = field(default_factory=dict)
    loaded: set[str] = field(default_factory=set)
    embed_dims: int = 16
    #: Bytes of each layer the server has downloaded (kept when a pull is interrupted).
    partial: dict[str, int] = field(default_factory=dict)
    #: Bytes the server downloaded, per model, over all pulls (a resume adds no repeats).
    downloaded: dict[str, int] = field(default_factory=dict)
    pulls: list[PullRequest] = field(default_factory=list)
    embed_batches: list[int] = field(default_factory=list)
    #: Requests running now, by path (a closed stream leaves this count).
    active: dict[str, int] = field(default_factory=dict)
    #: The bearer token a proxy in front of the server demands; None: no check.
    token: str | None = None
    url: str = ""
    _gate: asyncio.Semaphore | None = None
    _runner: web.AppRunner | None = None

    # --- the test's controls -------------------------------------------------------------

    def hold(self) -> None:
        """From now on every pull chunk and every answer token waits for `allow`."""
        self._gate = asyncio.Semaphore(0)

    def allow(self, chunks: int = 1) -> None:
        """Let `chunks` more chunks (or tokens) go."""
        if self._gate is not None:
            for _ in range(chunks):
                self._gate.release()

    def open(self) -> None:
        """No more waiting: everything flows."""
        gate, self._gate = self._gate, None
        if gate is not None:
            for _ in range(10_000):
                gate.release()

    async def _paced(self) -> None:
        if self._gate is not None:
            await self._gate.acquire()

    # --- the server ----------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self._auth])
        app.add_routes(
            [
                web.get("/", self._root),
                web.get("/api/version", self._version),
                web.get("/api/tags", self._tags),
                web.get("/api/ps", self._ps),
                web.post("/api/show", self._show),
                web.post("/api/pull", self._pull),
                web.post("/api/generate", self._generate),
                web.post("/api/chat", self._chat),
                web.post("/api/embed", self._embed),
            ]
        )
        # A client that goes away cancels its handler, as Go's server ends a request's context.
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        self.open()
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if (
            self.token is not None
            and request.headers.get("Authorization") != f"Bearer {self.token}"
        ):
            return web.json_response({"error": "unauthorized"}, status=401)
        self.active[request.path] = self.active.get(request.path, 0) + 1
        try:
            response: web.StreamResponse = await handler(request)
            return response
        finally:
            self.active[request.path] -= 1

    async def _root(self, request: web.Request) -> web.Response:
        return web.Response(text="Ollama is running")

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": VERSION})

    def _model_json(self, model: LibraryModel) -> dict[str, Any]:
        return {
            "name": model.name,
            "model": model.name,
            "modified_at": "2026-12-01T10:00:00.000000+00:00",
            "size": model.size,
            "digest": hashlib.sha256(model.name.encode()).hexdigest(),
            "details": _DETAILS,
        }

    async def _tags(self, request: web.Request) -> web.Response:
        return web.json_response({"models": [self._model_json(m) for m in self.installed.values()]})

    async def _ps(self, request: web.Request) -> web.Response:
        models = []
        for name in sorted(self.loaded):
            body = self._model_json(self.installed[name])
            body.update(expires_at="2026-12-07T10:05:00.000000+00:00", size_vram=body["size"])
            models.append(body)
        return web.json_response({"models": models})

    def _missing(self, name: str) -> web.Response:
        return web.json_response(
            {"error": f'model "{name}" not found, try pulling it first'}, status=404
        )

    def _find(self, name: str) -> LibraryModel | None:
        return self.installed.get(name) or self.installed.get(f"{name}:latest")

    async def _show(self, request: web.Request) -> web.Response:
        body = await request.json()
        model = self._find(body.get("model", ""))
        if model is None:
            return self._missing(body.get("model", ""))
        return web.json_response(
            {
                "modelfile": f"FROM {model.name}",
                "parameters": "",
                "template": "{{ .Prompt }}",
                "details": _DETAILS,
                "model_info": {"general.architecture": "llama"},
            }
        )

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        return response

    @staticmethod
    async def _send(response: web.StreamResponse, body: dict[str, Any]) -> None:
        await response.write(json.dumps(body).encode() + b"\n")

    async def _pull(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        name = str(body.get("model", ""))
        model = self.library.get(name)
        response = await self._stream(request)
        await self._send(response, {"status": "pulling manifest"})
        if model is None:
            await self._send(response, {"error": "pull model manifest: file does not exist"})
            return response
        self.pulls.append(PullRequest(name, {d: self.partial.get(d, 0) for d in model.digests}))
        layers = list(zip(model.digests, model.layer_sizes, strict=True))
        for digest, size in layers:  # every layer is announced (with what is there) first
            status = f"pulling {digest.removeprefix('sha256:')[:12]}"
            have = self.partial.get(digest, 0)
            await self._send(
                response, {"status": status, "digest": digest, "total": size, "completed": have}
            )
        for digest, size in layers:
            status = f"pulling {digest.removeprefix('sha256:')[:12]}"
            have = self.partial.get(digest, 0)
            while have < size:
                if name.startswith("vanishing") and have >= 2 * CHUNK_BYTES:
                    assert request.transport is not None
                    request.transport.close()  # the server process dies mid-pull
                    return response
                await self._paced()
                step = min(CHUNK_BYTES, size - have)
                have += step  # downloaded from the registry: kept even if the client goes
                self.partial[digest] = have
                self.downloaded[name] = self.downloaded.get(name, 0) + step
                await self._send(
                    response,
                    {"status": status, "digest": digest, "total": size, "completed": have},
                )
        for status in ("verifying sha256 digest", "writing manifest", "success"):
            await self._send(response, {"status": status})
        self.installed[name] = model
        return response

    def _final(self, name: str, count: int) -> dict[str, Any]:
        return {
            "model": name,
            "created_at": "2026-12-07T10:00:00Z",
            "done": True,
            "done_reason": "stop",
            "total_duration": 2_500_000_000,
            "load_duration": 500_000_000,
            "prompt_eval_count": 7,
            "prompt_eval_duration": 100_000_000,
            "eval_count": count,
            "eval_duration": 2_000_000_000,
        }

    async def _answer(self, request: web.Request, prompt: str, wrap: Any) -> web.StreamResponse:
        body = await request.json()
        name = str(body.get("model", ""))
        if self._find(name) is None:
            return self._missing(name)
        if name.startswith("crashing"):
            return web.json_response(
                {"error": "llama runner process has terminated: exit status 2"}, status=500
            )
        self.loaded.add(self._find(name).name)  # type: ignore[union-attr]
        tokens: list[str] = []
        response = await self._stream(request)
        async for token in self.tokens_for(prompt, body.get("options") or {}):
            tokens.append(token)
            if name.startswith("broken") and len(tokens) == 3:
                await self._send(
                    response, {"error": "llama runner process has terminated: exit status 2"}
                )
                return response
            await self._paced()
            await self._send(response, {"model": name, "done": False, **wrap(token)})
        await self._send(response, {**self._final(name, len(tokens)), **wrap("")})
        return response

    async def tokens_for(self, prompt: str, options: dict[str, Any]) -> AsyncIterator[str]:
        """The answer's tokens: `answer_to(prompt)` a word (and its space) at a time."""
        for token in re.findall(r"\S+\s*", answer_to(prompt)):
            yield token

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        return await self._answer(request, str(body.get("prompt", "")), lambda t: {"response": t})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        users = [m["content"] for m in body.get("messages", []) if m.get("role") == "user"]
        return await self._answer(
            request,
            users[-1] if users else "",
            lambda t: {"message": {"role": "assistant", "content": t}},
        )

    async def _embed(self, request: web.Request) -> web.Response:
        body = await request.json()
        name = str(body.get("model", ""))
        if self._find(name) is None:
            return self._missing(name)
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        dims = int(body.get("dimensions") or self.embed_dims)
        await self._paced()  # one batch a chunk
        self.embed_batches.append(len(texts))
        return web.json_response(
            {
                "model": name,
                "embeddings": [embedding_of(t, dims) for t in texts],
                "total_duration": 14_143_917,
                "load_duration": 1_019_500,
                "prompt_eval_count": sum(len(t.split()) for t in texts),
            }
        )


async def serve(server: OllamaServer) -> AsyncIterator[OllamaServer]:
    """Start `server`, yield it, stop it."""
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
