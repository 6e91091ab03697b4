"""Retrying a block of code, done carefully (notebook 06, after Su Jianlin's post 9938).

The construct keeps the call-site shape that the post arrives at::

    for attempt in Retry(5, on=ConnectionError, wait=Fixed(2.0)):
        with attempt:
            data = fetch()          # any block; its locals stay visible after the loop

and fixes what the post's final version leaves open:

* only the exception types in ``on`` are retried (default ``Exception``); ``KeyboardInterrupt``,
  ``SystemExit``, ``GeneratorExit`` and ``asyncio.CancelledError`` are never retried, even if asked;
* after the last attempt the **original** exception is re-raised, with its traceback (the loop
  never ends silently on failure, so no success flag is needed);
* there is no sleep after the last attempt, and no sleep that would overrun ``deadline``;
* waits are pluggable (:class:`Fixed`, :class:`Exponential`, :class:`FullJitter`,
  :class:`EqualJitter`, :class:`DecorrelatedJitter`); randomness comes from an ``rng`` you pass in;
* ``sleep`` and ``clock`` are injectable (:class:`FakeClock` makes tests take no real time), and
  ``before_sleep`` is called with a :class:`RetryEvent` before every sleep (logging hook);
* all state of one run lives in that run's generator and its :class:`Attempt` objects, so one
  ``Retry`` object can be shared by nested loops, threads and tasks;
* the same object is a decorator (``@Retry(...)``, sync or ``async def``) and an async iterator
  (``async for attempt in Retry(...): with attempt: ...``).

The second half holds vectorised numpy versions of the backoff schedules and the
thundering-herd simulation used for the figures.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

__all__ = [
    "NEVER_RETRIED",
    "Attempt",
    "DecorrelatedJitter",
    "EqualJitter",
    "Exponential",
    "FakeClock",
    "Fixed",
    "Flaky",
    "FullJitter",
    "HerdResult",
    "Retry",
    "RetryEvent",
    "exponential_delays",
    "jittered_delays",
    "simulate_herd",
]

#: BaseExceptions that signal "stop now": never retried, whatever ``on`` says.
NEVER_RETRIED: tuple[type[BaseException], ...] = (
    KeyboardInterrupt,
    SystemExit,
    GeneratorExit,
    asyncio.CancelledError,
)


# --------------------------------------------------------------------------------------------
# waits: wait(n, previous) -> seconds to sleep after the n-th failed attempt
# --------------------------------------------------------------------------------------------


class Wait(Protocol):
    def __call__(self, n: int, previous: float) -> float: ...


class _Uniform(Protocol):
    def uniform(self, low: float, high: float) -> Any: ...


def _check_nonneg(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not value >= 0:  # also rejects nan
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _check_rng(rng: object) -> _Uniform:
    if not callable(getattr(rng, "uniform", None)):
        raise TypeError(
            "rng must be a random.Random or numpy.random.Generator (something with .uniform), "
            f"got {type(rng).__name__}"
        )
    return rng  # type: ignore[return-value]


@dataclass(frozen=True)
class Fixed:
    """The same delay after every failure: ``wait(n) = delay``."""

    delay: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "delay", _check_nonneg("delay", self.delay))

    def __call__(self, n: int, previous: float = 0.0) -> float:
        return self.delay


@dataclass(frozen=True)
class Exponential:
    """Capped exponential backoff: ``wait(n) = min(cap, initial * base**(n-1))``."""

    initial: float = 1.0
    base: float = 2.0
    cap: float = math.inf

    def __post_init__(self) -> None:
        for name in ("initial", "base", "cap"):
            object.__setattr__(self, name, _check_nonneg(name, getattr(self, name)))
        if self.base < 1:
            raise ValueError(f"base must be >= 1, got {self.base}")

    def __call__(self, n: int, previous: float = 0.0) -> float:
        if n < 1:
            raise ValueError(f"n (number of failed attempts) must be >= 1, got {n}")
        if self.initial == 0:
            return 0.0
        # compare in log space so that large n cannot overflow
        if self.base > 1 and (n - 1) * math.log(self.base) >= math.log(self.cap / self.initial):
            return self.cap
        return min(self.cap, self.initial * self.base ** (n - 1))


@dataclass(frozen=True)
class _JitterOf:
    """A random delay derived from another wait ``inner``, drawn with ``rng``."""

    inner: Wait
    rng: _Uniform

    def __post_init__(self) -> None:
        if not callable(self.inner):
            raise TypeError("inner must be a wait (callable (n, previous) -> seconds)")
        _check_rng(self.rng)


@dataclass(frozen=True)
class FullJitter(_JitterOf):
    """``U(0, inner(n))``: the whole delay is random (AWS "full jitter")."""

    def __call__(self, n: int, previous: float = 0.0) -> float:
        return float(self.rng.uniform(0.0, self.inner(n, previous)))


@dataclass(frozen=True)
class EqualJitter(_JitterOf):
    """``w/2 + U(0, w/2)`` with ``w = inner(n)``: half fixed, half random ("equal jitter")."""

    def __call__(self, n: int, previous: float = 0.0) -> float:
        w = self.inner(n, previous)
        return w / 2 + float(self.rng.uniform(0.0, w / 2))


@dataclass(frozen=True)
class DecorrelatedJitter:
    """``min(cap, U(base, 3 * previous))``, with ``previous = base`` before the first sleep."""

    base: float
    cap: float
    rng: _Uniform

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", _check_nonneg("base", self.base))
        object.__setattr__(self, "cap", _check_nonneg("cap", self.cap))
        if self.cap < self.base:
            raise ValueError(f"cap ({self.cap}) must be >= base ({self.base})")
        _check_rng(self.rng)

    def __call__(self, n: int, previous: float = 0.0) -> float:
        prev = max(previous, self.base)
        return min(self.cap, float(self.rng.uniform(self.base, 3.0 * prev)))


# --------------------------------------------------------------------------------------------
# the construct
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryEvent:
    """What ``before_sleep`` receives: attempt ``attempt`` failed with ``exception``; the loop is
    about to sleep ``delay`` seconds, ``elapsed`` seconds after the first attempt started."""

    attempt: int
    exception: BaseException
    delay: float
    elapsed: float


class Attempt:
    """One attempt: a context manager that records how the ``with`` block ended.

    ``number`` counts from 1. After the block, ``exception`` is the retryable exception that the
    block raised (and that was suppressed), or ``None`` if the block completed. Exceptions that are
    not retryable are not suppressed: they leave the loop at once.
    """

    __slots__ = ("number", "exception", "_on", "_state")

    def __init__(self, number: int, on: tuple[type[Exception], ...]) -> None:
        self.number = number
        self.exception: BaseException | None = None
        self._on = on
        self._state = "new"  # new -> entered -> ok | failed | escaped

    def __repr__(self) -> str:
        return f"Attempt(number={self.number}, state={self._state!r})"

    def __enter__(self) -> Attempt:
        if self._state != "new":
            raise RuntimeError(f"attempt {self.number} was already used; one `with` per attempt")
        self._state = "entered"
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        if kind is None:
            self._state = "ok"  # includes leaving the block by break / continue / return
            return False
        if issubclass(kind, NEVER_RETRIED) or not issubclass(kind, self._on):
            self._state = "escaped"
            return False  # propagate: Ctrl-C, exit, cancellation, non-retryable errors
        self._state = "failed"
        self.exception = exc
        return True  # suppress; the loop decides whether to try again

    def _outcome(self) -> BaseException | None:
        """Called by the loop when it resumes: None on success, the exception on failure."""
        if self._state == "ok":
            return None
        if self._state == "failed":
            return self.exception
        raise RuntimeError(
            f"attempt {self.number} was not run inside `with attempt:` "
            "(write the block to retry as `for attempt in Retry(...): with attempt: ...`)"
        )


def _check_on(on: object) -> tuple[type[Exception], ...]:
    kinds = on if isinstance(on, tuple) else (on,)
    if not kinds:
        raise ValueError("on must name at least one exception type")
    for k in kinds:
        if not (isinstance(k, type) and issubclass(k, BaseException)):
            raise TypeError(f"on must be an exception type or a tuple of them, got {k!r}")
        if not issubclass(k, Exception):
            raise ValueError(
                f"on={k.__name__} would retry KeyboardInterrupt/SystemExit/GeneratorExit/"
                "CancelledError; only subclasses of Exception can be retried"
            )
    return kinds  # type: ignore[return-value]


class Retry:
    """Retry a block (iterator + context manager), a function (decorator) or async code.

    Parameters
    ----------
    attempts : int or None
        Most attempts in total (>= 1). ``None`` means no limit: then ``deadline`` is required.
    on : exception type or tuple of them
        What to retry. Default ``Exception``. Subclasses of ``BaseException`` that are not
        ``Exception`` (Ctrl-C, ``SystemExit``, ``GeneratorExit``, ``CancelledError``) are refused.
    wait : callable ``(n, previous) -> seconds``
        Delay after the n-th failure; ``previous`` is the delay slept before (0.0 at first).
        Default ``Fixed(1.0)``. Use :class:`Exponential` wrapped in :class:`FullJitter` when many
        clients may fail together (see the notebook's simulation).
    deadline : float or None
        Seconds since the first attempt started. The loop gives up (re-raising the last error)
        instead of starting a sleep that would end after the deadline.
    sleep : callable or None
        ``sleep(seconds)``. Default ``time.sleep`` (sync) or ``asyncio.sleep`` (async), looked up
        when the loop starts. In async loops a result that is awaitable is awaited.
    clock : callable or None
        Monotonic clock for ``deadline``. Default ``time.monotonic``, looked up when the loop
        starts.
    before_sleep : callable or None
        Called with a :class:`RetryEvent` before every sleep (and only then).

    On final failure the last exception is re-raised as it is (same object, same type, its
    traceback extended by the loop's frame); there is no wrapper error type.
    """

    def __init__(
        self,
        attempts: int | None = 5,
        *,
        on: type[Exception] | tuple[type[Exception], ...] = Exception,
        wait: Wait | None = None,
        deadline: float | None = None,
        sleep: Callable[[float], Any] | None = None,
        clock: Callable[[], float] | None = None,
        before_sleep: Callable[[RetryEvent], Any] | None = None,
    ) -> None:
        if attempts is not None:
            if isinstance(attempts, bool) or not isinstance(attempts, (int, np.integer)):
                raise TypeError(f"attempts must be an int or None, got {type(attempts).__name__}")
            if attempts < 1:
                raise ValueError(f"attempts must be >= 1, got {attempts}")
            attempts = int(attempts)
        if deadline is not None:
            deadline = _check_nonneg("deadline", deadline)
        if attempts is None and deadline is None:
            raise ValueError("attempts=None needs a deadline, otherwise the loop never gives up")
        wait = Fixed(1.0) if wait is None else wait
        for name, fn in (("wait", wait), ("sleep", sleep), ("clock", clock),
                         ("before_sleep", before_sleep)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
        self.attempts = attempts
        self.on = _check_on(on)
        self.wait = wait
        self.deadline = deadline
        self.sleep = sleep
        self.clock = clock
        self.before_sleep = before_sleep

    def __repr__(self) -> str:
        names = ", ".join(k.__name__ for k in self.on)
        return (f"Retry(attempts={self.attempts}, on=({names}), wait={self.wait!r}, "
                f"deadline={self.deadline})")

    # -- the schedule shared by the sync and async loops -------------------------------------

    def _plan(self, n: int, previous: float, start: float, clock: Callable[[], float],
              error: BaseException) -> float | None:
        """Seconds to sleep after failed attempt n, or None to give up."""
        if self.attempts is not None and n >= self.attempts:
            return None
        delay = self.wait(n, previous)
        if not (isinstance(delay, (int, float, np.floating)) and math.isfinite(delay)
                and delay >= 0):
            raise ValueError(f"wait returned {delay!r}; expected a finite number >= 0")
        delay = float(delay)
        elapsed = clock() - start
        if self.deadline is not None and elapsed + delay > self.deadline:
            return None
        if self.before_sleep is not None:
            self.before_sleep(RetryEvent(n, error, delay, elapsed))
        return delay

    # -- for attempt in Retry(...): with attempt: ... -------------------------------------------

    def __iter__(self) -> Iterator[Attempt]:
        sleep = self.sleep if self.sleep is not None else time.sleep
        clock = self.clock if self.clock is not None else time.monotonic
        start, previous, n = clock(), 0.0, 0
        while True:
            n += 1
            attempt = Attempt(n, self.on)
            yield attempt  # the caller's `with attempt:` block runs here
            error = attempt._outcome()
            if error is None:
                return
            delay = self._plan(n, previous, start, clock, error)
            if delay is None:
                raise error  # the original exception, traceback kept
            sleep(delay)
            previous = delay

    # -- async for attempt in Retry(...): with attempt: ... -------------------------------------

    def __aiter__(self) -> AsyncIterator[Attempt]:
        return self._async_attempts()

    async def _async_attempts(self) -> AsyncIterator[Attempt]:
        sleep = self.sleep if self.sleep is not None else asyncio.sleep
        clock = self.clock if self.clock is not None else time.monotonic
        start, previous, n = clock(), 0.0, 0
        while True:
            n += 1
            attempt = Attempt(n, self.on)
            yield attempt
            error = attempt._outcome()
            if error is None:
                return
            delay = self._plan(n, previous, start, clock, error)
            if delay is None:
                raise error
            pending = sleep(delay)
            if inspect.isawaitable(pending):
                await pending
            previous = delay

    # -- @Retry(...) ---------------------------------------------------------------------------

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Decorate ``fn`` (plain or ``async def``) so that each call is retried."""
        if not callable(fn):
            raise TypeError(f"Retry(...) decorates a callable, got {type(fn).__name__}")
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args, **kwargs):
                async with aclosing(self._async_attempts()) as attempts:
                    async for attempt in attempts:
                        with attempt:
                            return await fn(*args, **kwargs)
                raise AssertionError("unreachable: the loop returns or raises")

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for attempt in self:
                with attempt:
                    return fn(*args, **kwargs)
            raise AssertionError("unreachable: the loop returns or raises")

        return wrapper

    def call(self, fn: Callable[..., Any], *args, **kwargs) -> Any:
        """``fn(*args, **kwargs)``, retried."""
        return self(fn)(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# test doubles: a fake clock and a scripted failing callable
# --------------------------------------------------------------------------------------------


class FakeClock:
    """A clock that only moves when told to: ``sleep`` records the delay and advances ``now``.

    Use ``clock`` as the ``clock=`` argument and ``sleep`` / ``asleep`` as ``sleep=``. ``asleep``
    also yields once to the event loop, so that a task can be cancelled while it "sleeps".
    """

    def __init__(self, start: float = 0.0) -> None:
        self.start = float(start)
        self.now = float(start)
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        seconds = _check_nonneg("seconds", seconds)
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        """Let time pass without sleeping (e.g. the duration of an attempt)."""
        self.now += _check_nonneg("seconds", seconds)

    @property
    def slept(self) -> float:
        return float(sum(self.sleeps))

    def reset(self) -> None:
        self.now = self.start
        self.sleeps.clear()


class Flaky:
    """A callable that raises the scripted exceptions in order, then returns ``value``.

    ``failures`` is a sequence of exception instances (or classes, or ``None`` for "succeed this
    call"); call ``i`` (from 1) raises ``failures[i-1]`` if there is one and it is not ``None``.
    ``calls`` counts the calls and ``raised`` keeps the exception objects actually raised, so a
    test can check that the error a retry loop ends with *is* the last one raised.
    """

    def __init__(self, failures: Iterable[BaseException | type[BaseException] | None] = (),
                 value: Any = 42, cost: float = 0.0, clock: FakeClock | None = None) -> None:
        self.failures = list(failures)
        for f in self.failures:
            if not (f is None or isinstance(f, BaseException)
                    or (isinstance(f, type) and issubclass(f, BaseException))):
                raise TypeError(f"failures must hold exceptions, exception types or None, got {f!r}")
        self.value = value
        self.cost = _check_nonneg("cost", cost)
        self.clock = clock
        self.calls = 0
        self.raised: list[BaseException] = []

    @classmethod
    def failing(cls, k: int, kind: type[BaseException] = ConnectionError, value: Any = 42,
                **kwargs) -> Flaky:
        """Fail ``k`` times with fresh ``kind`` instances ("failure 1", ...), then succeed."""
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        return cls([kind(f"failure {i + 1}") for i in range(k)], value=value, **kwargs)

    def __call__(self, *args, **kwargs) -> Any:
        self.calls += 1
        if self.clock is not None and self.cost:
            self.clock.advance(self.cost)
        if self.calls <= len(self.failures):
            f = self.failures[self.calls - 1]
            if f is not None:
                exc = f() if isinstance(f, type) else f
                self.raised.append(exc)
                raise exc
        return self.value


# --------------------------------------------------------------------------------------------
# vectorised schedules and the thundering-herd simulation
# --------------------------------------------------------------------------------------------

JITTERS = ("none", "full", "equal", "decorrelated")


def exponential_delays(n: int | np.ndarray, initial: float = 1.0, base: float = 2.0,
                       cap: float = math.inf) -> np.ndarray:
    """``min(cap, initial * base**(n-1))`` for an int n (attempts 1..n) or an array of n's."""
    initial, base, cap = (_check_nonneg(k, v) for k, v in
                          (("initial", initial), ("base", base), ("cap", cap)))
    if base < 1:
        raise ValueError(f"base must be >= 1, got {base}")
    ns = np.arange(1, int(n) + 1) if np.ndim(n) == 0 else np.asarray(n)
    if ns.size and ns.min() < 1:
        raise ValueError("attempt numbers n must be >= 1")
    with np.errstate(over="ignore"):
        raw = initial * np.power(base, ns - 1.0)
    return np.minimum(cap, raw)


def jittered_delays(delays: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Apply ``kind`` in {"none", "full", "equal"} jitter to an array of delays."""
    d = np.asarray(delays, dtype=float)
    if kind == "none":
        return d.copy()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if kind == "full":
        return rng.uniform(0.0, 1.0, d.shape) * d
    if kind == "equal":
        return d / 2 + rng.uniform(0.0, 1.0, d.shape) * d / 2
    raise ValueError(f"kind must be one of 'none', 'full', 'equal', got {kind!r}")


@dataclass
class HerdResult:
    """Per-slot load and per-client outcome of :func:`simulate_herd`."""

    arrivals: np.ndarray  # requests that reached the server in each slot
    served: np.ndarray  # requests that succeeded in each slot
    done_at: np.ndarray  # per client: end of the slot it succeeded in (nan if it gave up/never)
    calls: np.ndarray  # per client: requests sent
    params: dict = field(default_factory=dict)

    @property
    def fraction_served(self) -> float:
        return float(np.mean(np.isfinite(self.done_at)))

    @property
    def total_calls(self) -> int:
        return int(self.calls.sum())

    def time_to_serve(self, q: float = 1.0) -> float:
        """First time by which a fraction ``q`` of the clients were served (inf if never)."""
        t = np.sort(np.where(np.isfinite(self.done_at), self.done_at, np.inf))
        k = max(int(math.ceil(q * t.size)) - 1, 0)
        return float(t[k])


def simulate_herd(n_clients: int, capacity: int, *, jitter: str, rng: np.random.Generator,
                  outage: int = 10, base: float = 1.0, cap: float = 64.0,
                  max_attempts: int = 50, horizon: int = 4000,
                  overload: str = "shed") -> HerdResult:
    """Many clients retrying against one server that is down, then recovers.

    Time runs in slots of length 1. All clients send their first request at t = 0. A request
    sent at time t is handled in slot ``floor(t)`` and answered at the end of that slot. During
    the first ``outage`` slots every request fails. Afterwards the server handles ``capacity``
    requests per slot: with ``overload="shed"`` it serves the earliest ``capacity`` arrivals of the
    slot and rejects the rest; with ``overload="collapse"`` a slot with more than ``capacity``
    arrivals fails them all (an overloaded server that times out for everyone). A client whose
    request failed for the n-th time sleeps ``d_n`` after the answer, then retries, and gives up
    after ``max_attempts`` requests. ``d_n`` is ``min(cap, base 2^(n-1))`` with ``jitter`` in
    {"none", "full", "equal"} applied, or the decorrelated rule ``min(cap, U(base, 3 d_{n-1}))``.
    """
    for name, v in (("n_clients", n_clients), ("capacity", capacity), ("max_attempts", max_attempts),
                    ("horizon", horizon)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if not isinstance(outage, (int, np.integer)) or outage < 0:
        raise ValueError(f"outage must be an int >= 0, got {outage!r}")
    if jitter not in JITTERS:
        raise ValueError(f"jitter must be one of {JITTERS}, got {jitter!r}")
    if overload not in ("shed", "collapse"):
        raise ValueError(f"overload must be 'shed' or 'collapse', got {overload!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    base, cap = _check_nonneg("base", base), _check_nonneg("cap", cap)
    if cap < base:
        raise ValueError(f"cap ({cap}) must be >= base ({base})")

    t_next = np.zeros(n_clients)
    calls = np.zeros(n_clients, dtype=np.int64)
    prev = np.full(n_clients, base)
    done_at = np.full(n_clients, np.nan)
    waiting = np.ones(n_clients, dtype=bool)
    arrivals = np.zeros(horizon, dtype=np.int64)
    served = np.zeros(horizon, dtype=np.int64)
    for s in range(horizon):
        if not waiting.any():
            break
        idx = np.flatnonzero(waiting & (t_next < s + 1))
        if idx.size == 0:
            continue
        arrivals[s] = idx.size
        calls[idx] += 1
        ok = np.zeros(idx.size, dtype=bool)
        if s >= outage:
            if overload == "shed":
                order = np.argsort(t_next[idx], kind="stable")
                ok[order[:capacity]] = True
            elif idx.size <= capacity:
                ok[:] = True
        won = idx[ok]
        served[s] = won.size
        done_at[won] = s + 1
        waiting[won] = False
        lost = idx[~ok]
        out = calls[lost] >= max_attempts
        waiting[lost[out]] = False
        lost = lost[~out]
        if lost.size:
            if jitter == "decorrelated":
                hi = 3.0 * np.maximum(prev[lost], base)
                d = np.minimum(cap, base + rng.uniform(0.0, 1.0, lost.size) * (hi - base))
            else:
                d = jittered_delays(exponential_delays(calls[lost], base, 2.0, cap), jitter, rng)
            prev[lost] = d
            t_next[lost] = s + 1 + d
    params = dict(n_clients=n_clients, capacity=capacity, jitter=jitter, outage=outage,
                  base=base, cap=cap, max_attempts=max_attempts, horizon=horizon,
                  overload=overload)
    return HerdResult(arrivals, served, done_at, calls, params)
