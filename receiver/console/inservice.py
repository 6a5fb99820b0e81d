"""``receiver serve --console``: the service's app with the console under ``/console/``.

Stage: the edge (the console over the HTTP service). Consumes a
:class:`~receiver.http.config.ServiceConfig`; produces each worker's app
(:func:`create_service_app`, given to ``receiver.http.server.serve`` as its factory):
the service's own app (``receiver.http.app``), unchanged for the hooks, ``/metrics`` and
the probes, with two more routes: ``GET /console`` redirects to ``/console/``, and
``/console/...`` is the console's app (``app.py``, its security headers on its own
answers only) over the service's live policies and this worker's feed. With several
workers the feed is shared through the run's private directory (``sharing.py``),
written by a thread started and stopped with the app's lifespan.

The console lives above the service in the layers (``pyproject.toml``): the service
knows nothing of it but the feed it fills, and this module composes the two.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route

from receiver.console.app import create_app as create_console_app
from receiver.console.served import Served
from receiver.console.sharing import FeedShare
from receiver.console.workspace import Workspace
from receiver.http.app import ReceiverApp
from receiver.http.app import create_app as create_service_app_only
from receiver.http.config import ServiceConfig
from receiver.observe.feed import DecisionFeed

PREFIX = "/console"


def create_service_app(config: ServiceConfig) -> ReceiverApp:
    """The service's app, with the console when ``config.console`` is set."""
    app = create_service_app_only(config)
    if config.console is None:
        return app
    feed: DecisionFeed = app.state.feed
    share = None
    if config.console.share_dir is not None:
        share = FeedShare(feed, config.console.share_dir)
    served = Served(app.state.live, feed, share, config.workers)
    bundle = config.policies_shown if config.policies_url is not None else None
    workspace = Workspace.serving(config.policies, served.sources, bundle=bundle)
    console = create_console_app(workspace, config.console.token, served)

    async def to_console(request: Request) -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    app.router.routes.extend([
        Route(PREFIX, to_console, methods=["GET", "HEAD"]),
        Mount(PREFIX, app=console),
    ])  # fmt: skip
    if share is not None:
        inner = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(app_: Any) -> AsyncIterator[None]:
            async with inner(app_):
                share.start()
                try:
                    yield
                finally:
                    share.stop()

        app.router.lifespan_context = lifespan
    app.state.console = served
    return app
