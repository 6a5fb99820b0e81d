"""The baselines of ``bench/serve.py``: bare Starlette endpoints that answer allow.

One route each, ``POST /hooks/socialplus`` (and ``/hooks/stream``, ``/hooks/twilio``
for ``bench/platforms.py``), under uvicorn with the settings
``receiver serve`` uses (uvloop and httptools when installed, one worker, no access log,
no server header), so the difference to the receiver is the receiver's own work. No
signature check, no policies, no metrics, no decision log.

- ``starlette`` (the default, the issue's reference: "a bare Starlette endpoint that
  only reads the JSON body and answers allow"): ``await request.json()`` and
  ``JSONResponse({"action": "allow"})``, Starlette's own way of reading and answering
  JSON;
- ``orjson`` (a stricter reference): the raw body parsed with the receiver's own JSON
  parser (``receiver.text.jsoncodec.loads``: orjson, standard-library fallback) and a
  pre-encoded answer. It is faster than Starlette's way by the difference between
  orjson and the standard library's ``json``, so ratios against it are lower.

::

    python bench/bare_app.py --port 8081 [--variant starlette|orjson]
"""

from __future__ import annotations

import argparse
import json
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from receiver.text import jsoncodec

ALLOW = b'{"action":"allow"}'
INVALID = {"error": "invalid JSON"}


async def hook(request: Request) -> Response:
    """Starlette's way: the JSON body read by Starlette, the answer rendered by it."""
    try:
        await request.json()
    except ValueError:  # json.JSONDecodeError, UnicodeDecodeError
        return JSONResponse(INVALID, 400)
    return JSONResponse({"action": "allow"})


async def hook_orjson(request: Request) -> Response:
    """The stricter reference: the receiver's own JSON parser, a pre-encoded answer."""
    body = await request.body()
    try:
        jsoncodec.loads(body)
    except jsoncodec.JSONError:
        return Response(json.dumps(INVALID).encode(), 400, media_type="application/json")
    return Response(ALLOW, media_type="application/json")


async def stream_hook(request: Request) -> Response:
    """Stream's hook the bare way: the JSON body read by Starlette, allow (``{}``)."""
    try:
        await request.json()
    except ValueError:
        return JSONResponse(INVALID, 400)
    return JSONResponse({})


async def twilio_hook(request: Request) -> Response:
    """Twilio's webhook the bare way: the form body parsed (the standard library's
    ``parse_qsl``: Starlette's ``request.form()`` needs python-multipart), allow (``{}``)."""
    body = await request.body()
    try:
        parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        return JSONResponse(INVALID, 400)
    return JSONResponse({})


app = Starlette(
    routes=[
        Route("/hooks/socialplus", hook, methods=["POST"]),
        Route("/hooks/stream", stream_hook, methods=["POST"]),
        Route("/hooks/twilio", twilio_hook, methods=["POST"]),
    ]
)
orjson_app = Starlette(routes=[Route("/hooks/socialplus", hook_orjson, methods=["POST"])])
VARIANTS = {"starlette": app, "orjson": orjson_app}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="starlette")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    uvicorn.run(
        VARIANTS[args.variant],
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
