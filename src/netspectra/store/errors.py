"""Errors of the results store."""

from __future__ import annotations

from netspectra.errors import NetspectraError


class StoreError(NetspectraError):
    """The store cannot be opened, is not a netspectra store, is corrupt, or lacks a requested run."""


class UntrustedRun(StoreError):
    """A stored run that may not be served: values of the wrong type or out of bounds, or rows that do not
    carry this user's seal (written elsewhere, by a netspectra before seals, or edited since)."""
