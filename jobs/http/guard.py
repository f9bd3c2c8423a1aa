"""Who may do what, how often, and with how big a body: API keys and their scopes, the per-key
rate limit, and the request body size limit."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobs import apikeys
from jobs.apikeys import KeyInfo
from jobs.apikeys import Scope as KeyScope
from jobs.settings import Settings

bearer = HTTPBearer(
    auto_error=False,
    description="An API key made with `jobs keys create NAME --scopes submit,read,admin`.",
)
CHALLENGE = {"WWW-Authenticate": "Bearer"}


class Keys:
    """Checks a request's key, its scope and its rate; one per application."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.app_database_url
        self.rate = parse(settings.api_rate_limit)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def check(
        self, credentials: HTTPAuthorizationCredentials | None, scope: KeyScope
    ) -> KeyInfo:
        """The key's description; 401 without a valid key, 429 past its rate, 403 out of scope."""
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(
                401, "an API key is required: send `Authorization: Bearer <key>`", CHALLENGE
            )
        try:
            key = await asyncio.to_thread(apikeys.authenticate, credentials.credentials, self.url)
        except SQLAlchemyError as exc:
            raise HTTPException(503, f"could not check the API key: {exc}") from exc
        if key is None:
            raise HTTPException(401, "the API key is not valid (unknown or revoked)", CHALLENGE)
        if not self.limiter.hit(self.rate, key.name):
            reset, _ = self.limiter.get_window_stats(self.rate, key.name)
            wait = max(1, math.ceil(reset - time.time()))
            raise HTTPException(
                429,
                f"rate limit of key {key.name!r} reached ({self.rate}); retry in {wait} s",
                {"Retry-After": str(wait)},
            )
        if not key.allows(scope):
            scopes = ", ".join(key.scopes)
            raise HTTPException(
                403,
                f"key {key.name!r} may not do this: it needs the {scope} scope; it has {scopes}",
            )
        return key


def require(scope: KeyScope) -> Callable[..., Awaitable[KeyInfo]]:
    """A dependency that admits requests whose key has ``scope``."""

    async def admitted(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> KeyInfo:
        keys: Keys = request.app.state.keys
        return await keys.check(credentials, scope)

    return admitted


class BodyTooLarge(HTTPException):
    """A request body over the limit (413), found while it is read."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body: expected at most {limit} bytes, got more")


class BodyLimit:
    """ASGI middleware refusing bodies over ``limit`` bytes with 413: at once when the
    Content-Length says so, else as soon as the bytes read pass it (chunked bodies too)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            got = f"{declared} bytes" if declared.isdigit() else f"Content-Length {declared!r}"
            detail = f"request body: expected at most {self.limit} bytes, got {got}"
            status = 413 if declared.isdigit() else 400
            await JSONResponse({"detail": detail}, status)(scope, receive, send)
            return
        read = 0

        async def limited() -> Message:
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, limited, send)
