"""When to try a failed delivery again: the Standard Webhooks example schedule, ~3 days.

Jitter spreads retries out, so an endpoint that fell over under load is not hit by every
queued message at the same instant when it comes back.
"""
from __future__ import annotations

import random
from datetime import timedelta

# Delay after the 1st, 2nd, … failed attempt. After the last one the delivery is given up.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
MAX_ATTEMPTS = 1 + len(RETRY_DELAYS)
JITTER = 0.1  # ± 10 %
# A receiver's Retry-After is honoured, within reason: it cannot park a message for a week.
MAX_RETRY_AFTER = timedelta(hours=24)


def next_delay(failed_attempts: int, retry_after: float | None = None,
               rng: random.Random | None = None) -> timedelta | None:
    """The wait before the next attempt after `failed_attempts` failures; None: give up."""
    if failed_attempts < 1 or failed_attempts > len(RETRY_DELAYS):
        return None
    base = RETRY_DELAYS[failed_attempts - 1]
    factor = 1 + (rng or random).uniform(-JITTER, JITTER)
    delay = base * factor
    # no mutate: a Retry-After of 1 s or less never beats the schedule's shortest wait (4.5 s)
    if retry_after is not None and retry_after > 0:  # pragma: no mutate
        delay = max(delay, min(timedelta(seconds=retry_after), MAX_RETRY_AFTER))
    return delay
