"""Errors the store raises for the caller to turn into answers."""

from __future__ import annotations


class StoreError(Exception):
    """Root of store errors."""


class NotFound(StoreError):
    """No such record."""


class Conflict(StoreError):
    """The record exists already, or the request contradicts one that does."""
