"""Publish requests: validated messages with their ids fixed up front, queued for the producer thread."""

from __future__ import annotations

import queue
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import InputError


class PublishError(InputError):
    """A publish request that cannot be sent (bad key, unknown exchange, non-JSON body)."""


@dataclass(frozen=True)
class PublishRequest:
    """A message for the producer thread to send, with its id fixed up front."""

    msg: str
    exchange: str
    routing_key: str
    body: Any = field(default_factory=dict)
    headers: Mapping[str, Any] = field(default_factory=dict)
    mandatory: bool = False
    expiration: float | None = None


class RequestQueue:
    """Requests from any thread to the producer thread, in order."""

    def __init__(self) -> None:
        self._queue: queue.Queue[PublishRequest] = queue.Queue()

    def put(self, request: PublishRequest) -> None:
        self._queue.put(request)

    def take(self, timeout: float | None) -> PublishRequest | None:
        """The next request (None: none within `timeout`; None timeout: only one already waiting)."""
        try:
            if timeout is None:
                return self._queue.get_nowait()
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
