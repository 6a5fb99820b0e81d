"""The console's routes: the page, its assets and the JSON API.

Stage: the edge (the console). Consumes HTTP requests; produces the page
(``GET /``), the bundled assets (``GET /static/...``) and the API (``GET
/api/workspace``, ``POST /api/check``, ``POST /api/decide``, ``POST /api/save``,
``POST /api/test``, ``GET /api/reports``, ``GET /api/reports/{name}``;
docs/console.md); inside ``receiver serve --console`` also the decision explorer
(``GET /api/decisions``, ``GET /api/decisions/{id}``, ``explorer.py``) and rule health
(``GET /api/health``, ``health.py``), mounted under ``/console`` by ``inservice.py``.
Each API call passes the token check (``auth.py``), reads its body within the limit
(``bodies.py``) and answers JSON; the work itself (checking, compiling, deciding,
writing, running tests, reading the other workers' snapshots) runs in a worker thread
so the event loop stays free.
An unexpected exception becomes a JSON answer (503) and a log line without content;
no request gets a 500. Every response carries the security headers (``headers.py``).
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from receiver.console.auth import authorized
from receiver.console.bodies import ApiError, read_json
from receiver.console.checking import check_json, diagnostics_json
from receiver.console.deciding import Compiled, decide_json
from receiver.console.explorer import decision_json, decisions_json, parse_query
from receiver.console.headers import SecurityHeaders
from receiver.console.health import health_json
from receiver.console.reports import list_reports, read_report
from receiver.console.served import Served
from receiver.console.sources import read_sources
from receiver.console.testrun import run_tests
from receiver.console.workspace import Workspace
from receiver.errors import PolicyLoadError
from receiver.runtime.policyset import check_sources, revision_of_sources

log = logging.getLogger("receiver.console")

STATIC = Path(__file__).resolve().parent / "static"

Handler = Callable[[Request], Awaitable[Any]]


class ConsoleJSON(JSONResponse):
    """JSON as UTF-8; with ``\\u`` escapes when the answer holds a lone surrogate (a
    policy text or payload sent with one), which UTF-8 cannot carry."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


def _where(err: BaseException) -> str:
    """The innermost frame of an exception, ``FILE:LINE in FUNCTION``: what a log line may
    say of it (its message may quote a policy or a payload)."""
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{Path(last.filename).name}:{last.lineno} in {last.name}"


def create_app(
    workspace: Workspace, token: str | None, served: Served | None = None
) -> SecurityHeaders:
    """The console application for ``workspace``; ``token``: what ``/api/*`` requires
    (None: nothing); ``served``: the service it runs in (``serve --console``), which adds
    the explorer and rule health."""
    compiled = Compiled()
    failures = itertools.count(1)  # internal errors, numbered in the log
    testing = threading.Lock()  # one test run at a time (each may take seconds)

    def api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if not authorized(request.headers.get("authorization"), token):
                return ConsoleJSON(
                    {"error": "this console needs its token: send 'Authorization: Bearer TOKEN'"},
                    status_code=401,
                    headers={"www-authenticate": 'Bearer realm="receiver console"'},
                )
            try:
                return ConsoleJSON(await handler(request))
            except ApiError as err:
                return ConsoleJSON(err.body(), status_code=err.status)
            except PolicyLoadError as err:
                body = {"diagnostics": diagnostics_json(err.diagnostics)}
                return ConsoleJSON(body, status_code=422)
            except Exception as err:  # the fail-safe answer: logged without content
                log.error(
                    "console: internal error #%d answering %s: %s at %s",
                    next(failures), request.url.path, type(err).__name__, _where(err),
                )  # fmt: skip
                return ConsoleJSON(
                    {"error": "the console failed to answer (an internal error, logged); "
                              "try again, and report it if it persists"},
                    status_code=503,
                )  # fmt: skip

        return endpoint

    async def workspace_api(request: Request) -> Any:
        return await run_in_threadpool(workspace.to_json)

    async def check_api(request: Request) -> Any:
        sources = read_sources(await read_json(request))
        return await run_in_threadpool(check_json, sources)

    async def decide_api(request: Request) -> Any:
        body = await read_json(request)
        sources = read_sources(body)

        def run() -> Any:
            return decide_json(compiled.get(sources), body)

        return await run_in_threadpool(run)

    async def test_api(request: Request) -> Any:
        sources = read_sources(await read_json(request))

        def run() -> Any:
            if not testing.acquire(blocking=False):
                raise ApiError(429, "a test run is already going: wait for it, then run again")
            try:
                return run_tests(workspace.policies, sources)
            finally:
                testing.release()

        return await run_in_threadpool(run)

    async def reports_api(request: Request) -> Any:
        return await run_in_threadpool(list_reports, workspace.reports)

    async def report_api(request: Request) -> Any:
        return await run_in_threadpool(read_report, workspace.reports, request.path_params["name"])

    async def save_api(request: Request) -> Any:
        if not workspace.can_save:
            raise ApiError(
                403, "saving is off: start the console with --allow-save to write policy files"
            )
        sources = read_sources(await read_json(request))

        def run() -> Any:
            merged = workspace.merged(sources)
            report = check_sources(merged)
            if report.has_errors:
                raise PolicyLoadError(report.diagnostics)
            workspace.save(sources)
            return {"saved": [name for name, _ in sources], "revision": revision_of_sources(merged)}

        return await run_in_threadpool(run)

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    async def no_such_api(request: Request) -> Response:
        return ConsoleJSON({"error": f"no such API: {request.url.path}"}, status_code=404)

    routes: list[BaseRoute] = [
        Route("/", page, methods=["GET", "HEAD"]),
        Route("/api/workspace", api(workspace_api), methods=["GET"]),
        Route("/api/check", api(check_api), methods=["POST"]),
        Route("/api/decide", api(decide_api), methods=["POST"]),
        Route("/api/save", api(save_api), methods=["POST"]),
        Route("/api/test", api(test_api), methods=["POST"]),
        Route("/api/reports", api(reports_api), methods=["GET"]),
        Route("/api/reports/{name}", api(report_api), methods=["GET"]),
    ]
    if served is not None:
        routes += _served_routes(served, api)
    routes += [
        Route("/api/{rest:path}", no_such_api, methods=["GET", "POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    return SecurityHeaders(Starlette(routes=routes))


def _served_routes(
    served: Served, api: Callable[[Handler], Callable[[Request], Awaitable[Response]]]
) -> list[BaseRoute]:
    """The explorer's and rule health's routes (``serve --console``); the work reads the
    other workers' snapshots, so it runs in a worker thread."""

    async def decisions_api(request: Request) -> Any:
        query = parse_query(request.query_params)
        return await run_in_threadpool(lambda: decisions_json(served, served.feeds(), query))

    async def decision_api(request: Request) -> Any:
        decision_id = request.path_params["decision_id"]

        def run() -> Any:
            return decision_json(served, served.feeds(), decision_id)

        return await run_in_threadpool(run)

    async def health_api(request: Request) -> Any:
        return await run_in_threadpool(lambda: health_json(served, served.feeds()))

    return [
        Route("/api/decisions", api(decisions_api), methods=["GET"]),
        Route("/api/decisions/{decision_id}", api(decision_api), methods=["GET"]),
        Route("/api/health", api(health_api), methods=["GET"]),
    ]
