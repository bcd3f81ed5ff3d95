"""Smoothed rates (msg/s) from counters sampled now and then: the status line's offered and
delivered rates. Pure: the caller passes the time, so tests pin it."""

from __future__ import annotations

import math

SMOOTHING_SECONDS = 2.0
"""An exponentially weighted mean over about this long: steady enough to read, quick to follow a
rate change (63% of a step in 2 s)."""


class RateMeter:
    """Feed it a growing counter and the time; it says how fast the counter grows, smoothed."""

    def __init__(self, smoothing: float = SMOOTHING_SECONDS) -> None:
        self.smoothing = smoothing
        self._last: tuple[int, float] | None = None
        self.rate = 0.0

    def sample(self, count: int, now: float) -> float:
        """The smoothed rate after `count` was read at `now` (seconds, monotonic)."""
        if self._last is None:
            self._last = (count, now)
            return self.rate
        last_count, last_time = self._last
        elapsed = now - last_time
        if elapsed <= 0:
            return self.rate
        self._last = (count, now)
        instant = max(0, count - last_count) / elapsed
        self.rate += (1.0 - math.exp(-elapsed / self.smoothing)) * (instant - self.rate)
        return self.rate
