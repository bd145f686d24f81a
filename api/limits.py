"""Limits at the HTTP edge: how large a request may be, and how often one client may
present a token that is not valid.

Both answer with a 4xx that says what was exceeded; neither lets a request reach a route.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _TooLarge(Exception):  # noqa: N818 - a control-flow signal inside the middleware
    pass


class BodySizeLimit:
    """Refuse a request body larger than ``max_bytes`` with 413, whether its length is
    announced (``Content-Length``) or only found while reading a chunked body."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = dict(scope["headers"]).get(b"content-length")
        if announced is not None:
            if not announced.isdigit():
                await _answer(send, 400, "the Content-Length header is not a number", "body")
                return
            if int(announced) > self.max_bytes:
                await _answer(send, 413, self._message(), "body")
                return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if started:
                raise
            await _answer(send, 413, self._message(), "body")

    def _message(self) -> str:
        return f"the request body is larger than the limit of {self.max_bytes} bytes"


async def _answer(
    send: Send, code: int, detail: str, field_name: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps({"detail": detail, "field": field_name}).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": code, "headers": raw})
    await send({"type": "http.response.body", "body": body})


@dataclass
class AuthFailureLimiter:
    """At most ``max_failures`` unknown or revoked tokens per client address in a sliding
    ``window_s``; past that the address is refused (429) until its oldest failure leaves
    the window, whatever token it presents. Tokens are 32 random bytes, so guessing is
    hopeless anyway: this keeps a misconfigured client or a scanner from costing a
    database lookup per request. Per API process, in memory."""

    max_failures: int = 30
    window_s: float = 60.0
    max_clients: int = 10_000
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after(self, client: str) -> float:
        """Seconds until ``client`` may try again; 0 when it may now."""
        failures = self._failures.get(client)
        if failures is None:
            return 0.0
        cutoff = time.monotonic() - self.window_s
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return 0.0
        if len(failures) < self.max_failures:
            return 0.0
        return failures[0] - cutoff

    def failed(self, client: str) -> None:
        if client not in self._failures and len(self._failures) >= self.max_clients:
            self._failures.clear()  # a flood of addresses: start over rather than grow
        self._failures.setdefault(client, deque()).append(time.monotonic())
