"""What the layers below the service may fail with, named for the shell (handlers
answer them as ``UNAVAILABLE`` or ``INTERNAL``) so that it needs no import of theirs."""

from __future__ import annotations

from eventlog.ports import StoreError, StoreUnavailable

__all__ = ["StoreError", "StoreUnavailable"]
