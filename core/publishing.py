"""Publish requests: validated messages with their ids fixed up front, queued for the producer thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import InputError
from core.topology_changes import TopologyChange


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


@dataclass(frozen=True)
class TopologyRequest:
    """A topology change for the producer thread to make on the broker, in order with the messages.

    `done` is set once the change is made and reported (a consumer it declares starts then);
    `retires` is set at the same moment, to stop the consumer loop that the change replaces or deletes.
    """

    change: TopologyChange
    origin: str
    done: threading.Event = field(default_factory=threading.Event)
    refused: threading.Event = field(default_factory=threading.Event)
    retires: threading.Event | None = None

    @property
    def outstanding(self) -> bool:
        """Not yet made nor refused by the broker."""
        return not (self.done.is_set() or self.refused.is_set())


Request = PublishRequest | TopologyRequest


class RequestQueue:
    """Requests from any thread to the producer thread, in order."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Request] = queue.Queue()

    def put(self, request: Request) -> None:
        self._queue.put(request)

    def take(self, timeout: float | None) -> Request | None:
        """The next request (None: none within `timeout`; None timeout: only one already waiting)."""
        try:
            if timeout is None:
                return self._queue.get_nowait()
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
