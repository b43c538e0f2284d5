"""The Starlette app of `cnn serve`: its routes, one JSON shape for every error, and the request log.

    POST /predict   images in (multipart file fields, or one raw image body), predict's JSON out
                    ?top_k=N  the N likeliest classes;  ?show=1|numbers|png  what the network saw
    GET  /model     what `cnn summary --json` says of the model
    GET  /health    {"status": "ok", "in_flight": n, "capacity": m, ...}
    GET  /          the page to draw a digit on (cnncli/resources/serve/), and its files

Every error, ours or Starlette's (404, 405), is {"error": {"status", "message", "hint"}} and never a
stack trace. Starlette rather than FastAPI: four routes need no request models, dependency injection
or OpenAPI, and FastAPI would add pydantic to the start-up of a command that otherwise has no use for it.
"""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

import numpy as np
from PIL import Image
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cnncli.core.inference.pipeline import Failure, Outcome
from cnncli.core.serving.batching import Busy, Classify, InferenceQueue
from cnncli.core.serving.bodies import RequestError, images_in, read_capped
from cnncli.core.serving.config import ServeConfig

PAGE_FILES = {  # the page's files, by URL path: name in cnncli/resources/serve and content type
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
# the page loads nothing from elsewhere: it works offline, and a drawn digit goes nowhere but here
PAGE_POLICY = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'"
SHOW_MODES = {"": None, "0": None, "1": "numbers", "numbers": "numbers", "png": "png"}


@dataclass(frozen=True)
class ServedModel:
    """The model as the server sees it: a classify callable and the CLI's JSON documents for it."""

    classify: Classify  # image sources in, one Outcome each (top: every class) out, in order
    document: Callable[[Outcome], dict[str, Any]]  # one outcome's JSON, as `cnn predict --json` has it
    description: dict[str, Any]  # GET /model: `cnn summary --json` of the model file
    name: str  # shown on the page and in the start-up line
    thread_setup: Callable[[], None] | None = None  # run in the inference thread first (its torch threads)


def error_response(status: int, message: str, hint: str | None = None, **extra: Any) -> JSONResponse:
    headers = extra.pop("headers", None)
    body = {"error": {"status": status, "message": message, "hint": hint}, **extra}
    return JSONResponse(body, status_code=status, headers=headers)


def build_app(model: ServedModel, config: ServeConfig, log: Callable[[str], None]) -> ASGIApp:
    queue = InferenceQueue(
        model.classify, config.max_in_flight, config.batching, config.max_batch_images, model.thread_setup
    )
    folder = resources.files("cnncli") / "resources" / "serve"
    page = {path: ((folder / name).read_bytes(), kind) for path, (name, kind) in PAGE_FILES.items()}

    async def predict(request: Request) -> Response:
        top_k, show = _query(request)
        deadline = time.monotonic() + config.timeout  # one time limit for the body and the answer together
        try:
            async with asyncio.timeout(config.timeout):
                body = await read_capped(request.headers.get("content-length"), request.stream(), config.max_body)
        except TimeoutError:
            return error_response(408, f"the request body took more than {config.timeout:g} s to arrive")
        sources = images_in(request.headers.get("content-type", ""), body, config.max_images)
        try:
            outcomes = await queue.submit(sources, max(0.0, deadline - time.monotonic()))
        except Busy:
            return error_response(
                503,
                f"busy: {config.max_in_flight} requests are being answered",
                f"retry in {config.retry_after} s",
                headers={"Retry-After": str(config.retry_after)},
            )
        except TimeoutError:
            return error_response(504, f"the prediction took more than {config.timeout:g} s", "send fewer images")
        results = [_document(model, outcome, top_k, show) for outcome in outcomes]
        failed = [o for o in outcomes if isinstance(o, Failure)]
        if len(failed) == len(outcomes):  # as `cnn predict` exits 3: nothing could be predicted
            only = f": {failed[0].error}" if len(failed) == 1 else ""
            return error_response(
                400, f"no image could be predicted{only}", "each image's reason is in results", results=results
            )
        return JSONResponse(results)

    async def describe(_: Request) -> Response:
        return JSONResponse(model.description)

    async def health(_: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "model": model.name,
                "in_flight": queue.admitted,
                "capacity": queue.capacity,
                "batching": queue.batching,
                "calls": queue.calls,
                "requests": queue.requests_done,
            }
        )

    async def page_file(request: Request) -> Response:
        content, kind = page[request.url.path]
        return Response(
            content, media_type=kind, headers={"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-cache"}
        )

    @asynccontextmanager
    async def lifespan(_: Starlette):
        await queue.start()
        yield
        await queue.stop()

    routes = [
        Route("/predict", predict, methods=["POST"]),
        Route("/model", describe, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        *(Route(path, page_file, methods=["GET"]) for path in PAGE_FILES),
    ]
    handlers = {HTTPException: _http_error, RequestError: _request_error, Exception: _internal_error}
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)  # type: ignore[arg-type]
    return RequestLog(app, log)


def _query(request: Request) -> tuple[int, str | None]:
    """?top_k=N (default 1; past the number of classes, all of them) and ?show=... (RequestError otherwise)."""
    raw = request.query_params.get("top_k", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise RequestError(400, f"top_k must be a whole number of at least 1, not {raw!r}")
    show = request.query_params.get("show", "")
    if show not in SHOW_MODES:
        raise RequestError(400, f"show must be 1, numbers or png, not {show!r}")
    return int(raw), SHOW_MODES[show]


def _document(model: ServedModel, outcome: Outcome, top_k: int, show: str | None) -> dict[str, Any]:
    """predict's JSON of the outcome at this top_k; with show, the picture the network saw added."""
    if isinstance(outcome, Failure):
        return model.document(outcome)
    document = model.document(replace(outcome, top=outcome.top[:top_k]))
    if show is not None and outcome.seen is not None:
        document["seen"] = _png_url(outcome.seen) if show == "png" else outcome.seen.tolist()
    return document


def _png_url(seen: np.ndarray) -> str:
    """uint8 C x H x W as a PNG data URL (grey for one channel, RGB for three)."""
    picture = seen[0] if seen.shape[0] == 1 else np.ascontiguousarray(seen.transpose(1, 2, 0))
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


async def _http_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return error_response(error.status_code, error.detail, headers=error.headers)


async def _request_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, RequestError)
    return error_response(error.status, error.message, error.hint)


async def _internal_error(_: Request, error: Exception) -> Response:
    # no traceback to the client; the request log says 500, and the message names the kind of fault
    return error_response(500, f"internal error: {type(error).__name__}", "please report it")


class RequestLog:
    """One line per request, when it is answered: client, method, path, status, milliseconds."""

    def __init__(self, app: ASGIApp, log: Callable[[str], None]) -> None:
        self.app, self.log = app, log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client") or ("-", 0)
            query = "?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else ""
            milliseconds = 1000 * (time.perf_counter() - start)
            self.log(f"{client[0]} {scope['method']} {scope['path']}{query} {status[0]} {milliseconds:.1f} ms")
