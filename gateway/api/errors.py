"""API errors: every refusal is JSON naming what is wrong."""

from __future__ import annotations

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from gateway.api.schemas import ErrorBody, ErrorDetail, ErrorOut


class ApiError(Exception):
    """Raised by handlers; the error middleware turns it into a JSON answer."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, details: list[ErrorDetail] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def response(self) -> web.Response:
        body = ErrorOut(
            error=ErrorBody(
                status=self.status,
                code=self.code,
                message=self.message,
                details=self.details,
            )
        )
        return web.json_response(
            body.model_dump(mode="json"),
            status=self.status,
            headers={"WWW-Authenticate": "Bearer"} if self.status == 401 else None,
        )


class BadJson(ApiError):
    code = "bad_json"


class Invalid(ApiError):
    status = 422


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFoundError(ApiError):
    status = 404
    code = "not_found"


class ConflictError(ApiError):
    status = 409
    code = "conflict"


class TooLarge(ApiError):
    status = 413
    code = "too_large"


class Unavailable(ApiError):
    """A subsystem the request needs is not running (e.g. the SIP voice channel)."""

    status = 503
    code = "refused"


def storage_unavailable(exc: OperationalError) -> Unavailable:
    """503 naming the database's own cause (locked, disk full, gone).

    The store runs each request as one transaction, so a failed one left nothing
    behind: the client may retry (a phone with the same Idempotency-Key).
    """
    cause = str(exc.orig if exc.orig is not None else exc).strip().splitlines()[0]
    return Unavailable(f"the database cannot take this request now: {cause}; nothing was stored")


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_media_type"


def invalid_from(exc: ValidationError) -> Invalid:
    """One sentence naming each bad field, e.g. ``location.lat: must be <= 90, got 91``."""
    details = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(p) for p in error["loc"]) or "body"
        message = str(error["msg"])
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] != "missing" and isinstance(error.get("input"), str | int | float):
            message = f"{message}, got {error['input']!r}"
        details.append(ErrorDetail(field=field, message=message))
    summary = "; ".join(f"{d.field}: {d.message}" for d in details)
    return Invalid(f"invalid request: {summary}", details)
