"""Fake LibreTranslate and DeepL servers on 127.0.0.1 that check every request against the
providers' published API descriptions (`shared/specs/libretranslate-api.json`, Swagger 2, and
`deepl-api.json`, OpenAPI 3): the path and method exist, required parameters are there, none is
unknown, values have the documented types; DeepL's key comes in its Authorization header.

Every request is recorded, so a test can read exactly what left the server. The fake
"translates" through a phrasebook a test fills, else by tagging the text with the target.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiohttp import web

JSON = dict[str, Any]
Behaviour = Literal["answer", "fail", "hang", "refuse", "quota"]

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "array": (list,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
}


class OpenApiRequests:
    """Checks a request (path, JSON body, headers) against a Swagger 2 or OpenAPI 3 file."""

    def __init__(self, data: JSON) -> None:
        self.data = data

    @classmethod
    def load(cls, path: Path) -> OpenApiRequests:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def problems(self, method: str, path: str, body: JSON, headers: dict[str, str]) -> list[str]:
        operation = self.data["paths"].get(path, {}).get(method.lower())
        if operation is None:
            return [f"{method} {path}: no such operation"]
        if "requestBody" in operation:
            return self._body_problems(operation, body) + self._security_problems(
                operation, headers
            )
        params = {p["name"]: p for p in operation.get("parameters", [])}
        found = [f"unknown parameter {name!r}" for name in body if name not in params]
        found += [
            f"required parameter {name!r} missing"
            for name, p in params.items()
            if p.get("required") and name not in body
        ]
        for name, value in body.items():
            if name in params:
                found += self._value(value, params[name].get("schema", params[name]), name)
        return found

    def _body_problems(self, operation: JSON, body: JSON) -> list[str]:
        schema = self._resolve(operation["requestBody"]["content"]["application/json"]["schema"])
        properties = schema.get("properties", {})
        found = [f"unknown parameter {name!r}" for name in body if name not in properties]
        found += [f"required parameter {n!r} missing" for n in schema["required"] if n not in body]
        for name, value in body.items():
            if name in properties:
                found += self._value(value, properties[name], name)
        return found

    def _security_problems(self, operation: JSON, headers: dict[str, str]) -> list[str]:
        schemes = self.data.get("components", {}).get("securitySchemes", {})
        found = []
        for requirement in operation.get("security", []):
            for name in requirement:
                scheme = schemes[name]
                value = headers.get(scheme["name"], "")
                if not value.startswith(scheme.get("x-default", "")) or not value.split(" ")[-1]:
                    found.append(f"header {scheme['name']!r} missing or malformed")
        return found

    def _resolve(self, schema: JSON) -> JSON:
        while "$ref" in schema:
            node: Any = self.data
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    def _value(self, value: Any, schema: JSON, where: str) -> list[str]:
        schema = self._resolve(schema)
        if "oneOf" in schema:
            attempts = [self._value(value, option, where) for option in schema["oneOf"]]
            return [] if any(not a for a in attempts) else attempts[0]
        kind = schema.get("type")
        if kind is not None and (
            not isinstance(value, _TYPES[kind]) or (kind == "integer" and isinstance(value, bool))
        ):
            return [f"{where}: expected {kind}, got {type(value).__name__}"]
        if "enum" in schema and value not in schema["enum"]:
            return [f"{where}: {value!r} is not one of {schema['enum']}"]
        if kind == "array" and "items" in schema:
            return [p for item in value for p in self._value(item, schema["items"], where)]
        return []


@dataclass
class Request:
    path: str
    body: JSON
    headers: dict[str, str]


@dataclass
class FakeTranslation:
    """Both providers on one port: `/translate` (LibreTranslate) and `/v2/translate` (DeepL)."""

    specs_dir: Path
    behaviour: Behaviour = "answer"
    phrasebook: dict[str, str] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    # What the real provider would have refused (answered 400 here); a test expects none.
    violations: list[str] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self.libre = OpenApiRequests.load(self.specs_dir / "libretranslate-api.json")
        self.deepl = OpenApiRequests.load(self.specs_dir / "deepl-api.json")
        self._never = asyncio.Event()
        app = web.Application()
        app.router.add_post("/translate", self._libre)
        app.router.add_post("/v2/translate", self._deepl)
        self._runner = web.AppRunner(app)

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self._never.set()
        await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sent_texts(self) -> list[str]:
        """Every text that left Tandem, in order."""
        texts: list[str] = []
        for request in self.requests:
            value = request.body.get("q", request.body.get("text", []))
            texts += value if isinstance(value, list) else [value]
        return texts

    def _render(self, text: str, target: str) -> str:
        return self.phrasebook.get(text, f"<{target.lower()}> {text}")

    async def _checked(self, request: web.Request, spec: OpenApiRequests) -> JSON | None:
        body = await request.json()
        headers = dict(request.headers)
        self.requests.append(Request(request.path, body, headers))
        problems = spec.problems(request.method, request.path, body, headers)
        self.violations += [f"{request.path}: {problem}" for problem in problems]
        return None if problems else dict(body)

    async def _misbehave(self, refused_status: int) -> web.Response | None:
        if self.behaviour == "hang":
            await self._never.wait()
        if self.behaviour == "fail":
            return web.json_response({"error": "Translation error"}, status=500)
        if self.behaviour == "refuse":
            return web.json_response({"error": "Invalid API key"}, status=refused_status)
        if self.behaviour == "quota":
            return web.json_response({"message": "Quota exceeded"}, status=456)
        return None

    async def _libre(self, request: web.Request) -> web.Response:
        body = await self._checked(request, self.libre)
        if body is None:
            return web.json_response({"error": "Invalid request"}, status=400)
        wrong = await self._misbehave(403)
        if wrong is not None:
            return wrong
        q = body["q"]
        texts = q if isinstance(q, list) else [q]
        translated = [self._render(text, body["target"]) for text in texts]
        return web.json_response({"translatedText": translated if isinstance(q, list) else q})

    async def _deepl(self, request: web.Request) -> web.Response:
        body = await self._checked(request, self.deepl)
        if body is None:
            return web.json_response({"message": "Bad request"}, status=400)
        wrong = await self._misbehave(403)
        if wrong is not None:
            return wrong
        source, target = body.get("source_lang", "EN"), body["target_lang"]
        translations = [
            {"detected_source_language": source, "text": self._render(text, target)}
            for text in body["text"]
        ]
        return web.json_response({"translations": translations})


# What the translation tests have the fake LibreTranslate say (placeholders stand for names).
PHRASEBOOK = {
    "⟦0⟧ read a whole page aloud": "⟦0⟧ leyó una página entera en voz alta",
    "durmió mal y estaba muy ansioso esta mañana": "slept badly and was very anxious this morning",
}


@asynccontextmanager
async def running_libre(specs_dir: Path) -> AsyncIterator[FakeTranslation]:
    """A fake LibreTranslate with the shared phrasebook, checked to have seen no bad request."""
    server = FakeTranslation(specs_dir)
    server.phrasebook = dict(PHRASEBOOK)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
    assert server.violations == []
