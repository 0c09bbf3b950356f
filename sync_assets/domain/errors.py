"""Errors raised by the pure domain layer.

A ``MappingError`` is about one record and is never retried as is: the caller dead-letters the record with
``reason`` and ``field_path`` and goes on with the rest of the batch. A ``PolicyError`` is about the
configuration file and stops the process at load time, before any record moves.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of the domain layer's errors."""


class MappingError(DomainError):
    """One source record cannot be turned into a target record.

    ``reason`` is a human sentence an operator can act on (it names the SKU, the line, the value);
    ``field_path`` locates the offending value in the *source* payload, e.g. ``lineItems.nodes[2].sku``.
    """

    def __init__(self, reason: str, field_path: str | None = None) -> None:
        self.reason = reason
        self.field_path = field_path
        super().__init__(f"{reason} (at {field_path})" if field_path else reason)


class PolicyError(DomainError):
    """The sync policy file is invalid. The message names the file, the entity and the field."""
