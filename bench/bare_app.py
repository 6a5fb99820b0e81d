"""The baseline of ``bench/serve.py``: a bare Starlette endpoint that answers allow.

One route, ``POST /hooks/socialplus``: read the whole body, parse it with the
receiver's JSON parser (``receiver.jsoncodec.loads``: orjson, standard-library
fallback) and answer ``{"action":"allow"}``. No signature check, no policies, no
metrics, no decision log. It runs under uvicorn with the settings ``receiver serve``
uses (uvloop and httptools when installed, one worker, no access log, no server
header), so the difference between the two is the receiver's own work::

    python bench/bare_app.py --port 8081
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from receiver import jsoncodec

ALLOW = b'{"action":"allow"}'


async def hook(request: Request) -> Response:
    body = await request.body()
    try:
        jsoncodec.loads(body)
    except jsoncodec.JSONError:
        return Response(b'{"error":"invalid JSON"}', 400, media_type="application/json")
    return Response(ALLOW, media_type="application/json")


app = Starlette(routes=[Route("/hooks/socialplus", hook, methods=["POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="auto",  # as receiver serve: uvloop when installed
        http="auto",  # httptools when installed
        lifespan="on",
        access_log=False,
        server_header=False,
        log_level=args.log_level,
        workers=None,
    )


if __name__ == "__main__":
    main()
