"""The one reconnect supervisor and its one backoff policy, shared by the producer, consumers and tap.

A loop hands the supervisor a `session(conn)` that works on one connection until told to stop. The
supervisor opens the connection (one thread, one connection), runs the session, and when the broker
goes away (the backend says which errors mean that) closes it, waits out the backoff and starts over.
Before the first connection ever succeeded a few quick tries are all there is: a wrong host, port,
password or vhost is bad input, reported in one line. Anything else a session raises is not a lost
broker and goes straight up to the runner: a bug is never retried into silence.

Each try is one kombu connect attempt (`ensure_connection(max_retries=0)`); the waiting is ours, not
kombu's retry loop, because that checks its stop callback only once a second.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kombu import Connection
from kombu.exceptions import OperationalError

from core.backends.amqp import scrub
from core.backends.base import Backend
from core.controls import StopCheck, sleep_interruptibly


@dataclass(frozen=True)
class BackoffPolicy:
    """Delays between reconnect tries: `start`, then times `factor`, capped at `cap` seconds."""

    start: float = 0.2
    factor: float = 2.0
    cap: float = 2.0
    first_tries: int = 3
    """Tries before the first connection is given up as unreachable (bad input, not an outage)."""

    def delays(self) -> Iterator[float]:
        delay = self.start
        while True:
            yield delay
            delay = min(delay * self.factor, self.cap)


BACKOFF = BackoffPolicy()
"""The policy every loop uses: 0.2, 0.4, 0.8, 1.6, 2.0, 2.0 ... seconds."""

Session = Callable[[Connection], None]
OnRetry = Callable[[BaseException, float, bool], None]
"""Told of each lost or refused connection: the error, the delay before the next try, and whether
a connection had succeeded before (reconnecting) or not (still connecting)."""


def reason(exc: BaseException, url: str) -> str:
    """`Type: message` on one line with the URL's password scrubbed out."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return scrub(f"{type(exc).__name__}: {text}", url)


class Reconnect:
    """Runs a session on a connection of its own, reconnecting with backoff when the broker goes away."""

    def __init__(
        self,
        backend: Backend,
        on_retry: OnRetry,
        *,
        policy: BackoffPolicy = BACKOFF,
        unreachable: Callable[[str], BaseException] | None = None,
    ) -> None:
        self.backend = backend
        self.on_retry = on_retry
        self.policy = policy
        self.unreachable = unreachable
        """Builds the error raised when the first connection fails `first_tries` times (given the
        reason); None keeps trying for ever (consumers: the producer already proved the URL)."""
        self.connected_once = False

    def lost(self, exc: BaseException) -> bool:
        """True when `exc` means the broker (or our connection to it) went away: retry it."""
        return isinstance(exc, (OSError, ConnectionError)) or self.backend.consumer_connection_lost(exc)

    def run(self, session: Session, should_stop: StopCheck) -> None:
        """Run `session` until it returns (it was told to stop) or raises something not a lost broker."""
        delays = self.policy.delays()
        failures = 0
        while not should_stop():
            refused = False
            try:
                with self.backend.connection() as conn:
                    try:
                        conn.ensure_connection(max_retries=0)
                    except (*conn.connection_errors, *conn.channel_errors, OperationalError):
                        refused, failures = True, failures + 1
                        raise
                    self.connected_once, failures, delays = True, 0, self.policy.delays()
                    session(conn)
                return
            except Exception as exc:
                if not (refused or self.lost(exc)):
                    raise
                if refused and (give_up := self._gives_up(failures)) is not None:
                    raise give_up(reason(exc, self.backend.url)) from None
                delay = next(delays)
                self.on_retry(exc, delay, self.connected_once)
                sleep_interruptibly(delay, should_stop, None)

    def _gives_up(self, failures: int) -> Callable[[str], BaseException] | None:
        """Before any connection succeeded, `first_tries` refusals are bad input, not an outage:
        the error to raise then, else None (keep trying)."""
        if self.connected_once or failures < self.policy.first_tries:
            return None
        return self.unreachable
