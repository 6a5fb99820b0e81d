"""The console's security headers, on every response it sends.

Stage: the edge (the console). An ASGI middleware: consumes each response's start
message; produces it with a strict ``Content-Security-Policy`` (scripts, styles and
connections from the console itself only; no inline code, no ``eval``; no framing),
``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``, and a
``Cache-Control``: ``no-store`` for the API (answers hold policy text and payloads),
``no-cache`` for the page and its assets (revalidated on each load, so a new version
of the receiver is never mixed with cached scripts of the old one).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_COMMON = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
_REPLACED = {name for name, _ in _COMMON} | {b"cache-control"}


class SecurityHeaders:
    """Adds the headers above to every HTTP response of ``app`` (errors and 404s too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        root: str = scope.get("root_path", "")  # mounted (serve --console): /console
        if root and path.startswith(root):
            path = path[len(root) :]
        cache = b"no-store" if path.startswith("/api/") or path == "/api" else b"no-cache"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k not in _REPLACED]
                headers.extend(_COMMON)
                headers.append((b"cache-control", cache))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
