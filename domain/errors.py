"""The error codes of the wire contract, and the one exception the core raises."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    BAD_REQUEST = "BAD_REQUEST"
    UNKNOWN_EVENT = "UNKNOWN_EVENT"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    TRIP_NOT_FOUND = "TRIP_NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    NOT_IN_ROOM = "NOT_IN_ROOM"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    INVALID_TOKEN = "INVALID_TOKEN"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"
    # REST only
    UNAUTHORIZED = "UNAUTHORIZED"
    NOT_FOUND = "NOT_FOUND"


class CommandRefused(Exception):
    """A command the core will not accept; carries what the client is told."""

    def __init__(self, code: ErrorCode, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def __repr__(self) -> str:
        return f"CommandRefused({self.code}, {self.message!r}, {self.details!r})"


def invalid(field: str, message: str) -> CommandRefused:
    return CommandRefused(ErrorCode.VALIDATION_ERROR, f"{field}: {message}", {field: [message]})
