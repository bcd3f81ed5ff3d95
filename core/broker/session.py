"""Client-side state the broker keeps: connections (sessions), channels, consumers, unacked copies.

The broker pushes deliveries into a session's inbox under its lock, as RabbitMQ pushes basic.deliver
frames down a socket; the owning thread takes them out in drain_events. Everything here is guarded by
the broker's lock; the session's condition shares that lock so a waiting consumer releases it.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from core.broker.locking import YieldingLock
from core.broker.message import Envelope


@dataclass(eq=False)
class ConsumerRecord:
    """One basic.consume: its queue, prefetch (captured at consume time, as RabbitMQ's per-consumer
    basic.qos) and how many copies it holds unacked."""

    tag: str
    queue: str
    channel: ChannelState
    prefetch: int
    no_ack: bool
    unacked: int = 0
    priority: int = 0
    """basic.consume's x-priority: higher ones are sent to first while they have prefetch to spare."""

    def has_capacity(self) -> bool:
        if self.no_ack:
            return True
        if self.prefetch and self.unacked >= self.prefetch:
            return False
        limit = self.channel.global_prefetch
        return not limit or len(self.channel.unacked) < limit


@dataclass(frozen=True)
class Unacked:
    """A copy delivered on a channel and not yet acked or rejected."""

    envelope: Envelope
    queue: str
    consumer: ConsumerRecord | None  # None for basic.get
    origin: object = None
    """The queue object it came from: a queue deleted (or reset) and redeclared under the same
    name is another queue, and must not count or take back this copy."""


@dataclass(frozen=True)
class Delivery:
    """A basic.deliver on its way to the consuming thread."""

    channel: ChannelState
    consumer_tag: str
    delivery_tag: int
    envelope: Envelope
    queue: str


@dataclass(eq=False)
class ChannelState:
    """A channel: delivery tags, unacked copies by tag, its consumers and its current basic.qos."""

    session: Session
    owner: Any = None
    """The kombu channel object (the transport uses it to hand a delivery to its callback)."""
    prefetch: int = 0
    """basic.qos global=false: the prefetch each consumer started from now on gets."""
    global_prefetch: int = 0
    """basic.qos global=true: one limit shared by all the channel's consumers (0: none)."""
    next_tag: int = 1
    unacked: dict[int, Unacked] = field(default_factory=dict)
    consumers: dict[str, ConsumerRecord] = field(default_factory=dict)
    closed: bool = False
    forgotten: set[int] = field(default_factory=set)
    """Delivery tags of copies a broker reset discarded (reported dropped): acking one is a no-op."""

    def new_tag(self) -> int:
        tag = self.next_tag
        self.next_tag += 1
        return tag


class Session:
    """One connection's inbox of deliveries, with a condition on the broker's lock to wait on, and,
    once an event loop asks for one, a pipe whose read end is readable while deliveries wait (an
    event loop such as kombu's hub, Celery's worker, can only wait on file descriptors)."""

    def __init__(self, lock: YieldingLock) -> None:
        self._guard = lock
        self.cond = threading.Condition(lock.lock)
        self.inbox: deque[Delivery] = deque()
        self.channels: list[ChannelState] = []
        self.closed = False
        self._wake: tuple[int, int] | None = None
        """(read end, write end) of the wake-up pipe; None until an event loop registers."""
        self._woken = False
        """A byte is in the pipe, not yet read: one is enough however many deliveries follow."""

    def push(self, delivery: Delivery) -> None:
        """Called with the broker lock held."""
        self.inbox.append(delivery)
        self.cond.notify()
        if self._wake is not None:
            self._signal()

    def _signal(self) -> None:
        if self._wake is not None and not self._woken:
            self._woken = True
            os.write(self._wake[1], b"!")

    def wakeup_fd(self) -> int:
        """The read end of the wake-up pipe (made on first call); readable now if deliveries wait."""
        with self._guard:
            if self._wake is None:
                read, write = os.pipe()
                os.set_blocking(read, False)
                self._wake = (read, write)
                self._woken = False
            if self.inbox:
                self._signal()
            return self._wake[0]

    def clear_wakeup(self) -> None:
        """Read the pipe empty before taking deliveries: one pushed after this wakes the loop again."""
        with self._guard:
            if self._wake is None:
                return
            try:
                while os.read(self._wake[0], 64):
                    pass
            except BlockingIOError:
                pass
            self._woken = False

    def close_wakeup(self) -> None:
        """Close the pipe (the event loop let go of it, or the connection closed)."""
        with self._guard:
            if self._wake is not None:
                for fd in self._wake:
                    os.close(fd)
                self._wake = None
                self._woken = False

    def take(self, timeout: float | None) -> Delivery:
        """The next delivery; waits up to `timeout` seconds, then raises socket.timeout as kombu does
        (ConnectionError once the connection is closed, from this thread or another)."""
        with self._guard:
            if self.inbox:
                return self.inbox.popleft()
            if timeout is None:
                while not self.inbox:
                    self._check_open()
                    self.cond.wait()
                return self.inbox.popleft()
            deadline = time.monotonic() + timeout
            while not self.inbox:
                self._check_open()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no delivery within the timeout")
                self.cond.wait(remaining)
            return self.inbox.popleft()

    def _check_open(self) -> None:
        if self.closed:
            raise ConnectionError("the connection was closed")

    def remove(self, channel: ChannelState, consumer_tag: str | None = None) -> list[Delivery]:
        """Take back deliveries not yet handed to the client (channel closed or consumer cancelled).

        Called with the broker lock held.
        """
        kept: deque[Delivery] = deque()
        removed: list[Delivery] = []
        for d in self.inbox:
            if d.channel is channel and (consumer_tag is None or d.consumer_tag == consumer_tag):
                removed.append(d)
            else:
                kept.append(d)
        self.inbox = kept
        return removed
