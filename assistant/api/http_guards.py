"""What every API request passes first: errors in OpenAI's shape, the API token when Parley is reachable beyond this
computer, and the size limit, refused from Content-Length before a byte of the body is read (pure ASGI middleware:
starlette's would read the body first)."""

from __future__ import annotations

import hmac
import json

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

MAX_BODY_BYTES = 25 * 1024 * 1024  # OpenAI's own limit for an audio upload


class ApiError(Exception):
    """A request Parley cannot do, said in OpenAI's error shape with `status`."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def error_body(message: str, param: str | None = None, code: str | None = None,
               kind: str = "invalid_request_error") -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


async def api_error(request: Request, exc: ApiError) -> JSONResponse:
    kind = "server_error" if exc.status >= 500 else "invalid_request_error"
    return JSONResponse(error_body(exc.message, exc.param, exc.code, kind), status_code=exc.status)


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """The router's 404 and 405, and starlette's refusals of a malformed form, in OpenAI's shape."""
    return JSONResponse(error_body(str(exc.detail)), status_code=exc.status_code)


async def _send_json(send, status: int, body: dict, headers=()) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": payload})


class RequireToken:
    """401 unless the request carries `Authorization: Bearer <token>` (token None: every request passes)."""

    def __init__(self, app, token: str | None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or self.token is None:
            return await self.app(scope, receive, send)
        scheme, _, given = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            return await _send_json(send, 401, error_body(
                "Parley's API needs its token here: send it as the API key (Authorization: Bearer …); `parley serve` "
                "printed where it is kept", code="invalid_api_key"), [(b"www-authenticate", b"Bearer")])
        await self.app(scope, receive, send)


class LimitBody:
    """413 for a body over `limit` bytes: at once from Content-Length, else when the bytes received pass it."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = error_body(f"the request is over {self.limit // (1024 * 1024)} MB; send a shorter recording "
                               "(or one compressed: FLAC, OGG, MP3)", code="request_too_large")
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            return await _send_json(send, 413, too_large, [(b"connection", b"close")])
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, too_large["error"]["message"])
            return message

        await self.app(scope, counted, send)
