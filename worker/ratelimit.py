"""Fleet-wide limits per connection, held in Redis so every worker process on every machine shares them.

One small Lua script (atomic in Redis, one round trip) decides a request:

1. **Pause**: after a 429 with ``Retry-After``, ``pause(...)`` stores "paused until T" per connection;
   every worker waits until T.
2. **Concurrency**: a sorted set of slot holders scored by lease expiry. A holder that died (a killed
   worker) drops out when its lease passes, so its slot comes back without anyone releasing it.
3. **Rate**: GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp). ``rate_per_s``
   is the sustained rate; ``burst`` is the most requests allowed in any one-second window. With an
   emission interval ``T = 1/rate`` and a tolerance ``tau = (C - 1) * T`` at most ``rate * w + C``
   requests pass in a window of ``w`` seconds, so ``C = max(1, burst - max(rate, 1) + 1)`` makes every
   one-second window hold at most ``burst`` when ``burst >= rate`` (a smaller burst means "evenly
   spaced": at most ``rate`` per second). Below one request a second, ``burst`` is the plain bucket
   size: ``burst`` at once, then one every ``1/rate`` seconds.

The slot is taken only when the rate allows too, so a request waiting for the rate holds no slot; a
holder that asks again while holding its slot (a worker's batch, one request at a time) keeps it when
allowed and gives it back when told to wait.
Clock: the Redis server's ``TIME``, one clock for the whole fleet (no skew between machines); the
decision returns it as the admission time, which the pipeline records as the request's start. Tests
inject a clock instead.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

KEY_PREFIX = "scriptcron:limit"
MIN_WAIT_S = 0.005  # a wait hint is never zero, so callers never spin
CONCURRENCY_RETRY_S = 0.1  # hint when every slot is busy (the holders' ends are unknown)

_ACQUIRE_LUA = """
local gcra_key, slots_key, pause_key = KEYS[1], KEYS[2], KEYS[3]
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local interval = tonumber(ARGV[2])
local tau = tonumber(ARGV[3])
local max_slots = tonumber(ARGV[4])
local lease_until = now + tonumber(ARGV[5])
local member = ARGV[6]
local function deny(wait, reason)
  if max_slots > 0 then redis.call('ZREM', slots_key, member) end
  return {0, wait, reason, string.format('%.17g', now)}
end
local paused_until = tonumber(redis.call('GET', pause_key) or '0')
if paused_until > now then
  return deny(string.format('%.17g', paused_until - now), 'pause')
end
local holding = false
if max_slots > 0 then
  redis.call('ZREMRANGEBYSCORE', slots_key, '-inf', now)
  holding = redis.call('ZSCORE', slots_key, member) ~= false
  if (not holding) and redis.call('ZCARD', slots_key) >= max_slots then
    return deny(tostring(-1), 'concurrency')
  end
end
if interval > 0 then
  local tat = tonumber(redis.call('GET', gcra_key) or '0')
  if tat < now then tat = now end
  local allow_at = tat - tau
  if allow_at > now then
    return deny(string.format('%.17g', allow_at - now), 'rate')
  end
  local new_tat = tat + interval
  redis.call('SET', gcra_key, string.format('%.17g', new_tat), 'PX', math.ceil((new_tat - now + 1) * 1000))
end
if max_slots > 0 then
  redis.call('ZADD', slots_key, lease_until, member)
  redis.call('PEXPIRE', slots_key, math.ceil((lease_until - now + 1) * 1000))
end
return {1, '0', 'ok', string.format('%.17g', now)}
"""

_PAUSE_LUA = """
local seconds = tonumber(ARGV[2])
local until_ts = tonumber(ARGV[1]) + seconds
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ts > current then
  redis.call('SET', KEYS[1], string.format('%.17g', until_ts), 'PX', math.ceil((seconds + 1) * 1000))
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Limits:
    """One connection's limits. ``rate_per_s`` None: no rate limit; ``max_concurrency`` <= 0: no cap."""

    connection_id: int
    rate_per_s: float | None
    burst: int
    max_concurrency: int

    @property
    def emission_interval_s(self) -> float:
        return 1.0 / self.rate_per_s if self.rate_per_s else 0.0

    @property
    def tolerance_s(self) -> float:
        if not self.rate_per_s:
            return 0.0
        capacity = max(1.0, self.burst - max(self.rate_per_s, 1.0) + 1.0)
        return (capacity - 1.0) * self.emission_interval_s


@dataclass(frozen=True)
class Decision:
    """The limiter's answer: allowed now, or wait ``wait_s`` seconds (``reason``: pause/concurrency/rate)."""

    allowed: bool
    wait_s: float
    reason: str
    at: float | None = None  # the limiter's clock (Unix seconds) when it decided


class RateLimiter:
    """The fleet-wide limiter. ``client`` is a redis.Redis (or fakeredis) client."""

    def __init__(self, client: redis.Redis, *, clock: Callable[[], float] | None = None) -> None:
        self.client = client
        self.clock = clock
        self._acquire = client.register_script(_ACQUIRE_LUA)
        self._pause = client.register_script(_PAUSE_LUA)

    @staticmethod
    def keys(connection_id: int) -> tuple[str, str, str]:
        base = f"{KEY_PREFIX}:{connection_id}"
        return f"{base}:gcra", f"{base}:slots", f"{base}:pause"

    def try_acquire(self, limits: Limits, holder: str, *, lease_s: float) -> Decision:
        """Take a rate token and a slot for ``holder`` (leased ``lease_s``), or say how long to wait."""
        now = self.clock() if self.clock is not None else -1.0  # -1: the script reads Redis TIME
        allowed, wait, reason, at = self._acquire(
            keys=list(self.keys(limits.connection_id)),
            args=[
                repr(now),
                repr(limits.emission_interval_s),
                repr(limits.tolerance_s),
                limits.max_concurrency,
                repr(lease_s),
                holder,
            ],
        )
        reason = _text(reason)
        wait_s = float(_text(wait))
        decided_at = float(_text(at))
        if int(allowed) == 1:
            return Decision(True, 0.0, reason, decided_at)
        if reason == "concurrency":
            wait_s = CONCURRENCY_RETRY_S
        return Decision(False, max(MIN_WAIT_S, wait_s), reason, decided_at)

    def acquire(
        self,
        limits: Limits,
        holder: str,
        *,
        lease_s: float,
        max_sleep_s: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Decision:
        """Try, sleeping while the waits add up to at most ``max_sleep_s``; return the first longer wait."""
        slept = 0.0
        while True:
            decision = self.try_acquire(limits, holder, lease_s=lease_s)
            if decision.allowed or slept + decision.wait_s > max_sleep_s:
                return decision
            sleep(decision.wait_s)
            slept += decision.wait_s

    def release(self, connection_id: int, holder: str) -> None:
        """Give back ``holder``'s concurrency slot (no-op when it holds none)."""
        self.client.zrem(self.keys(connection_id)[1], holder)

    def pause(self, connection_id: int, seconds: float) -> None:
        """Pause every worker's requests to this connection for ``seconds`` (extends, never shortens)."""
        if seconds <= 0 or not math.isfinite(seconds):
            return
        self._pause(keys=[self.keys(connection_id)[2]], args=[repr(self._now()), repr(seconds)])

    def paused_for(self, connection_id: int) -> float:
        """Seconds left of this connection's pause (0 when not paused)."""
        raw = self.client.get(self.keys(connection_id)[2])
        if raw is None:
            return 0.0
        return max(0.0, float(raw) - self._now())

    def holders(self, connection_id: int) -> list[str]:
        """The current slot holders whose lease has not passed."""
        members = self.client.zrangebyscore(self.keys(connection_id)[1], self._now(), "+inf")
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]

    def _now(self) -> float:
        """The limiter's clock: the injected one, else the Redis server's."""
        if self.clock is not None:
            return self.clock()
        seconds, micros = self.client.time()
        return float(seconds) + float(micros) / 1_000_000


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
