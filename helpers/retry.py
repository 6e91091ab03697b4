"""Retrying a block of code, done carefully (notebook 06, after Su Jianlin's post 9938).

The construct keeps the call-site shape that the post arrives at::

    for attempt in Retry(5, on=ConnectionError, wait=Fixed(2.0)):
        with attempt:
            data = fetch()          # any block; its locals stay visible after the loop

and fixes what the post's final version leaves open:

* only the exception types in ``on`` are retried (default ``Exception``); ``KeyboardInterrupt``,
  ``SystemExit``, ``GeneratorExit`` and ``asyncio.CancelledError`` are never retried, even if asked.
  An ``ExceptionGroup`` (e.g. from ``asyncio.TaskGroup``) is retried when *every* exception in it
  matches ``on``; a group holding anything else propagates unchanged;
* after the last attempt the **original** exception is re-raised, with its traceback (the loop
  never ends silently on failure, so no success flag is needed). PEP 678 notes on it record the
  attempt history (``attempt k/N``, the elapsed time, each earlier error); nothing is wrapped;
* there is no sleep after the last attempt, and no sleep that would end after ``deadline``.
  ``deadline`` bounds the **start** of every attempt, not the total time: an attempt started just
  before the deadline runs to its end. To bound the total, pass ``attempt.remaining`` (seconds
  left until the deadline) as a timeout to whatever the block waits on;
* waits are pluggable (:class:`Fixed`, :class:`Exponential`, :class:`FullJitter`,
  :class:`EqualJitter`, :class:`DecorrelatedJitter`, or any callable ``(n, previous) -> s``);
  randomness comes from an ``rng`` you pass in;
* a :class:`RetryBudget` (a token bucket shared by many loops) caps retries at a fraction of the
  successes, so that an outage does not turn into a retry storm;
* ``sleep`` and ``clock`` are injectable (:class:`FakeClock` makes tests take no real time), and
  ``before_sleep`` is called with a :class:`RetryEvent` before every sleep (logging hook);
* all state of one run lives in that run's generator and its :class:`Attempt` objects, so one
  ``Retry`` object can be shared by nested loops, threads and tasks;
* the same object is a decorator (``@Retry(...)``, sync or ``async def``, including objects with an
  ``async def __call__``) and an async iterator (``async for attempt in Retry(...): with attempt:``).

Async code must use ``async for``. A plain ``for attempt in Retry(...)`` inside a coroutine calls
``time.sleep`` and so **blocks the event loop** for the whole wait (no other task runs); an async
``sleep=`` given to a plain ``for`` is refused with a TypeError rather than silently skipped.
Generator functions cannot be decorated (a TypeError at decoration): a generator's body runs only
as it is iterated, after the decorator has returned, so the decorator could not retry it; put the
``for``/``with`` block inside the generator instead.

Validation follows ``helpers._validate``: numbers go through ``real_scalar`` (a 0-d numpy array or
torch tensor is accepted and converted to a float), arrays through ``real_array`` (torch tensors
are ``.detach()``-ed and copied to the CPU; numpy arrays are returned, never tensors); errors are a
ValueError/TypeError naming the argument.

The second half holds vectorised numpy versions of the backoff schedules and the
thundering-herd simulation used for the figures.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from helpers._validate import check_memory, choice, real_array, real_scalar, size

__all__ = [
    "JITTERS",
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
    "RetryBudget",
    "RetryEvent",
    "Wait",
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

#: The jitter kinds of :func:`simulate_herd` (and, without "decorrelated", :func:`jittered_delays`).
JITTERS: tuple[str, ...] = ("none", "full", "equal", "decorrelated")

#: Most earlier errors listed in the notes of a final error (the rest are counted).
_MAX_NOTED = 10


# --------------------------------------------------------------------------------------------
# waits: wait(n, previous) -> seconds to sleep after the n-th failed attempt
# --------------------------------------------------------------------------------------------


class Wait(Protocol):
    """A wait strategy: ``wait(n, previous)`` is the delay (s) after the n-th failed attempt,
    ``previous`` the delay slept before it (0.0 before the first sleep)."""

    def __call__(self, n: int, previous: float) -> float: ...


class _Uniform(Protocol):
    def uniform(self, low: float, high: float) -> Any: ...


def _check_rng(rng: object, name: str = "rng") -> _Uniform:
    if not callable(getattr(rng, "uniform", None)):
        raise TypeError(
            f"{name}: expected a random.Random or numpy.random.Generator (something with "
            f".uniform), got {type(rng).__name__}"
        )
    return rng  # type: ignore[return-value]


def _check_callable(fn: object, name: str) -> None:
    if fn is not None and not callable(fn):
        raise TypeError(f"{name}: expected a callable, got {type(fn).__name__}")


def _inner_delay(value: object, who: str) -> float:
    """A delay returned by an inner wait: a number >= 0 (inf allowed: 'never again')."""
    try:
        return real_scalar(value, f"{who} (the delay it returned)", low=0.0, allow_inf=True)
    except (TypeError, ValueError) as err:
        raise ValueError(str(err)) from None


@dataclass(frozen=True)
class Fixed:
    """The same delay after every failure: ``wait(n) = delay`` (notebook 06, section 2).

    Raises: ValueError if ``delay`` is negative, NaN or infinite; TypeError if not a number.
    """

    delay: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "delay", real_scalar(self.delay, "delay", low=0.0))

    def __call__(self, n: int, previous: float = 0.0) -> float:
        """``delay``. Raises: ValueError/TypeError if ``n`` is not an int >= 1."""
        size(n, "n", low=1)
        return self.delay


@dataclass(frozen=True)
class Exponential:
    """Capped exponential backoff ``w_n = min(cap, initial * base**(n-1))`` (notebook 06, eq. of
    section 7). Beyond float range the uncapped delay is ``inf`` (which :class:`Retry` reads as
    "give up"); ``cap=0`` or ``initial=0`` give 0.

    Raises: ValueError if ``initial`` or ``base`` is not finite, ``initial < 0``, ``base < 1``,
    ``cap`` is NaN or negative; TypeError if one is not a number.
    """

    initial: float = 1.0
    base: float = 2.0
    cap: float = math.inf

    def __post_init__(self) -> None:
        object.__setattr__(self, "initial", real_scalar(self.initial, "initial", low=0.0))
        object.__setattr__(self, "base", real_scalar(self.base, "base", low=1.0))
        object.__setattr__(self, "cap", real_scalar(self.cap, "cap", low=0.0, allow_inf=True))

    def __call__(self, n: int, previous: float = 0.0) -> float:
        """``w_n``; ``previous`` is ignored. Raises: ValueError/TypeError if ``n`` is not an
        int >= 1."""
        n = size(n, "n", low=1)
        if self.initial == 0 or self.cap == 0:
            return 0.0
        if self.cap <= self.initial or self.base == 1:
            return min(self.cap, self.initial)
        log_w = math.log(self.initial) + (n - 1) * math.log(self.base)  # no overflow in log space
        if log_w >= math.log(self.cap):
            return self.cap
        if log_w > 709.0:  # exp(709.78) is the largest float; only reachable with cap = inf
            return math.inf
        if (n - 1) * math.log(self.base) < 709.0:
            return min(self.cap, self.initial * self.base ** (n - 1))  # exact for small n
        return min(self.cap, math.exp(log_w))


@dataclass(frozen=True)
class _JitterOf:
    """A random delay derived from another wait ``inner``, drawn with ``rng``."""

    inner: Wait
    rng: _Uniform

    def __post_init__(self) -> None:
        if not callable(self.inner):
            raise TypeError("inner: expected a wait (a callable (n, previous) -> seconds), "
                            f"got {type(self.inner).__name__}")
        _check_rng(self.rng)


@dataclass(frozen=True)
class FullJitter(_JitterOf):
    """``U(0, w_n)`` with ``w_n = inner(n, previous)``: the whole delay is random (AWS "full
    jitter"; notebook 06, section 7). An infinite ``w_n`` stays infinite.

    Raises: TypeError if ``inner`` is not callable or ``rng`` has no ``.uniform``; ValueError if
    ``inner`` returns NaN or a negative delay.
    """

    def __call__(self, n: int, previous: float = 0.0) -> float:
        w = _inner_delay(self.inner(n, previous), "inner")
        if math.isinf(w):
            return math.inf
        return float(self.rng.uniform(0.0, w))


@dataclass(frozen=True)
class EqualJitter(_JitterOf):
    """``w_n/2 + U(0, w_n/2)`` with ``w_n = inner(n, previous)``: half fixed, half random
    ("equal jitter"; notebook 06, section 7).

    Raises: as :class:`FullJitter`.
    """

    def __call__(self, n: int, previous: float = 0.0) -> float:
        w = _inner_delay(self.inner(n, previous), "inner")
        if math.isinf(w):
            return math.inf
        return w / 2 + float(self.rng.uniform(0.0, w / 2))


@dataclass(frozen=True)
class DecorrelatedJitter:
    """``d_n = min(cap, U(base, 3 d_{n-1}))`` with ``d_0 = base`` (``previous`` is ``d_{n-1}``;
    notebook 06, section 7).

    Raises: ValueError if ``base`` is not a finite number > 0 (with ``base = 0`` every delay would
    be 0) or ``cap < base``; TypeError if ``rng`` has no ``.uniform``.
    """

    base: float
    cap: float
    rng: _Uniform

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", real_scalar(self.base, "base", low=0.0, low_open=True))
        object.__setattr__(self, "cap", real_scalar(self.cap, "cap", low=0.0, allow_inf=True))
        if self.cap < self.base:
            raise ValueError(f"cap: expected a value >= base ({self.base:g}), got {self.cap:g}")
        _check_rng(self.rng)

    def __call__(self, n: int, previous: float = 0.0) -> float:
        """The next delay. Raises: ValueError/TypeError for a bad ``n`` or ``previous``."""
        size(n, "n", low=1)
        previous = real_scalar(previous, "previous", low=0.0, allow_inf=True)
        high = 3.0 * max(previous, self.base)
        if not math.isfinite(high):
            return self.cap
        return min(self.cap, float(self.rng.uniform(self.base, high)))


# --------------------------------------------------------------------------------------------
# a retry budget: one token bucket shared by many retry loops
# --------------------------------------------------------------------------------------------


class RetryBudget:
    """A token bucket that caps retries across every loop sharing it (notebook 06, section 8.1).

    The bucket starts with ``capacity`` tokens. A retry (the sleep before attempt 2, 3, ...) takes
    one token, and is refused, so that the loop gives up at once, when less than one token is
    left. Every success puts ``ratio`` tokens back, up to ``capacity``. Over any stretch of time,
    therefore, ``retries <= capacity + ratio * successes``: when everything fails, the loops
    sharing the budget send at most ``capacity`` retries in all instead of ``attempts - 1`` each;
    when things work, up to ``ratio`` retries per success are allowed. Thread-safe.

    Raises: ValueError if ``capacity`` is not a finite number >= 1 or ``ratio`` not finite >= 0.
    """

    def __init__(self, capacity: float = 10.0, ratio: float = 0.1) -> None:
        self.capacity = real_scalar(capacity, "capacity", low=1.0)
        self.ratio = real_scalar(ratio, "ratio", low=0.0)
        self._tokens = self.capacity
        self._lock = threading.Lock()
        self.granted = 0  # retries allowed so far
        self.refused = 0  # retries refused so far
        self.successes = 0  # successes reported so far

    def __repr__(self) -> str:
        return (f"RetryBudget(capacity={self.capacity:g}, ratio={self.ratio:g}; "
                f"tokens={self.tokens:g}, granted={self.granted}, refused={self.refused})")

    @property
    def tokens(self) -> float:
        """Tokens left now."""
        with self._lock:
            return self._tokens

    def withdraw(self, k: int = 1) -> int:
        """Ask for ``k`` retries; returns how many are granted (one token each, whole tokens
        only). Raises: ValueError/TypeError if ``k`` is not an int >= 0."""
        k = size(k, "k", low=0)
        with self._lock:
            grant = min(k, int(math.floor(self._tokens + 1e-9)))
            self._tokens -= grant
            self.granted += grant
            self.refused += k - grant
            return grant

    def deposit(self, successes: int = 1) -> None:
        """Report ``successes`` successes: ``ratio`` tokens each, up to ``capacity``.
        Raises: ValueError/TypeError if ``successes`` is not an int >= 0."""
        successes = size(successes, "successes", low=0)
        with self._lock:
            self._tokens = min(self.capacity, self._tokens + self.ratio * successes)
            self.successes += successes


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "attempt", size(self.attempt, "attempt", low=1))
        if not isinstance(self.exception, BaseException):
            raise TypeError(f"exception: expected an exception instance, got "
                            f"{type(self.exception).__name__}")
        object.__setattr__(self, "delay", real_scalar(self.delay, "delay", low=0.0))
        object.__setattr__(self, "elapsed", real_scalar(self.elapsed, "elapsed"))


def _leaves(group: BaseExceptionGroup) -> Iterator[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


def _retryable(exc: BaseException, on: tuple[type[BaseException], ...]) -> bool:
    """``exc`` is an ``on`` (and not a stop signal), or a group whose every leaf is."""
    if isinstance(exc, NEVER_RETRIED):
        return False
    if isinstance(exc, BaseExceptionGroup):
        leaves = list(_leaves(exc))
        if any(isinstance(leaf, NEVER_RETRIED) for leaf in leaves):
            return False  # a group carrying Ctrl-C or a cancellation is never retried
        if isinstance(exc, on):
            return True
        return bool(leaves) and all(isinstance(leaf, on) for leaf in leaves)
    return isinstance(exc, on)


class _Run:
    """The clock of one run of a loop, shared by its attempts (for ``Attempt.remaining``)."""

    __slots__ = ("clock", "start", "deadline", "attempts")

    def __init__(self, clock: Callable[[], float], deadline: float | None,
                 attempts: int | None) -> None:
        self.clock, self.deadline, self.attempts = clock, deadline, attempts
        self.start = clock()

    def elapsed(self) -> float:
        return self.clock() - self.start


class Attempt:
    """One attempt: a context manager that records how the ``with`` block ended.

    ``number`` counts from 1. After the block, ``exception`` is the retryable exception that the
    block raised (and that was suppressed), or ``None`` if the block completed. Exceptions that are
    not retryable are not suppressed: they leave the loop at once. ``remaining`` is the time left
    until the loop's deadline (``None`` without one), to pass downstream as a timeout.

    Raises: ValueError/TypeError if ``number`` is not an int >= 1 or ``on`` is not a tuple of
    exception types.
    """

    __slots__ = ("number", "exception", "_on", "_state", "_run")

    def __init__(self, number: int, on: tuple[type[Exception], ...], run: _Run | None = None
                 ) -> None:
        self.number = size(number, "number", low=1)
        self.exception: BaseException | None = None
        self._on = _check_on(on)
        self._state = "new"  # new -> entered -> ok | failed | escaped
        if run is not None and not isinstance(run, _Run):
            raise TypeError(f"run: expected None (attempts are made by Retry), got "
                            f"{type(run).__name__}")
        self._run = run

    def __repr__(self) -> str:
        return f"Attempt(number={self.number}, state={self._state!r})"

    @property
    def remaining(self) -> float | None:
        """Seconds left until the deadline now (never below 0), or None without a deadline."""
        if self._run is None or self._run.deadline is None:
            return None
        return max(0.0, self._run.deadline - self._run.elapsed())

    def __enter__(self) -> Attempt:
        if self._state != "new":
            raise RuntimeError(f"attempt {self.number} was already used; one `with` per attempt")
        self._state = "entered"
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: Any) -> bool:
        if kind is None:
            self._state = "ok"  # includes leaving the block by break / continue / return
            return False
        if exc is None:  # an exception type thrown in without an instance
            exc = kind()
        if not _retryable(exc, self._on):
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
        raise ValueError("on: expected at least one exception type, got ()")
    for k in kinds:
        if not (isinstance(k, type) and issubclass(k, BaseException)):
            raise TypeError(f"on: expected an exception type or a tuple of them, got {k!r}")
        if not issubclass(k, Exception):
            raise ValueError(
                f"on: {k.__name__} would retry KeyboardInterrupt/SystemExit/GeneratorExit/"
                "CancelledError; only subclasses of Exception can be retried"
            )
    return kinds  # type: ignore[return-value]


def _is_async_callable(fn: object) -> bool:
    if inspect.isclass(fn):
        return False
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None))


def _describe_error(exc: BaseException) -> str:
    text = str(exc)
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _seconds(t: float) -> str:
    return f"{t:.3g} s"


class Retry:
    """Retry a block (iterator + context manager), a function (decorator) or async code
    (notebook 06, section 4).

    Parameters
    ----------
    attempts : int or None
        Most attempts in total (>= 1). ``None`` means no limit: then ``deadline`` is required.
    on : exception type or tuple of them
        What to retry. Default ``Exception``. Subclasses of ``BaseException`` that are not
        ``Exception`` (Ctrl-C, ``SystemExit``, ``GeneratorExit``, ``CancelledError``) are refused.
        An exception group is retried when every exception in it (recursively) is an ``on``.
    wait : callable ``(n, previous) -> seconds``
        Delay after the n-th failure; ``previous`` is the delay slept before (0.0 at first).
        Default ``Fixed(1.0)``. Use :class:`Exponential` wrapped in :class:`FullJitter` when many
        clients may fail together (see the notebook's simulation). A wait of ``inf`` gives up.
    deadline : float or None
        Seconds since the first attempt started. Before each sleep the loop checks that time is
        left and that the next attempt would *start* by the deadline, and gives up (re-raising
        the last error) if not.
        So the deadline bounds the start of the last attempt, not the total time: the last
        attempt runs to its end. Inside the block, ``attempt.remaining`` is the time left, to pass
        as a timeout to the call that may hang.
    sleep : callable or None
        ``sleep(seconds)``. Default ``time.sleep`` (``for``) or ``asyncio.sleep`` (``async for``),
        looked up when the loop starts. In async loops a result that is awaitable is awaited; a
        plain ``for`` refuses an async ``sleep`` (TypeError) instead of skipping it.
    clock : callable or None
        Monotonic clock for ``deadline``, the notes and ``remaining``. Default
        ``time.monotonic``, looked up when the loop starts.
    before_sleep : callable or None
        Called with a :class:`RetryEvent` before every sleep (and only then).
    budget : RetryBudget or None
        A token bucket shared with other loops: each retry takes a token, and the loop gives up
        when none is left; each success refunds ``budget.ratio`` tokens.
    notes : bool
        On final failure, add PEP 678 notes to the exception: the attempt at which the loop gave
        up and why, the elapsed time, and each earlier error (at most 10 listed). Default True.

    On final failure the last exception is re-raised as it is (same object, same type, its
    traceback extended by the loop's frame); there is no wrapper error type.

    Raises: TypeError/ValueError (naming the argument) for a bad argument; at the loop's start,
    TypeError if a plain ``for`` is given an async ``sleep``.
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
        budget: RetryBudget | None = None,
        notes: bool = True,
    ) -> None:
        if attempts is not None:
            attempts = size(attempts, "attempts", low=1)
        if deadline is not None:
            deadline = real_scalar(deadline, "deadline", low=0.0)  # inf: use deadline=None
        if attempts is None and deadline is None:
            raise ValueError("attempts: None needs a deadline, otherwise the loop never gives up")
        wait = Fixed(1.0) if wait is None else wait
        for name, fn in (("wait", wait), ("sleep", sleep), ("clock", clock),
                         ("before_sleep", before_sleep)):
            _check_callable(fn, name)
        if budget is not None and not isinstance(budget, RetryBudget):
            raise TypeError(f"budget: expected a RetryBudget or None, got {type(budget).__name__}")
        if not isinstance(notes, bool):
            raise TypeError(f"notes: expected True or False, got {type(notes).__name__}")
        self.attempts = attempts
        self.on = _check_on(on)
        self.wait = wait
        self.deadline = deadline
        self.sleep = sleep
        self.clock = clock
        self.before_sleep = before_sleep
        self.budget = budget
        self.notes = notes

    def __repr__(self) -> str:
        names = ", ".join(k.__name__ for k in self.on)
        return (f"Retry(attempts={self.attempts}, on=({names}), wait={self.wait!r}, "
                f"deadline={self.deadline})")

    # -- the schedule shared by the sync and async loops -------------------------------------

    def _next_delay(self, n: int, previous: float, run: _Run,
                    error: BaseException) -> tuple[float | None, str]:
        """(seconds to sleep, "") after failed attempt n, or (None, why) to give up."""
        if self.attempts is not None and n >= self.attempts:
            return None, "no attempts left"
        raw = self.wait(n, previous)
        try:
            delay = real_scalar(raw, "wait", low=0.0, allow_inf=True)
        except (TypeError, ValueError):
            raise ValueError(f"wait returned {raw!r}; expected a number >= 0") from error
        if math.isinf(delay):
            return None, "the wait returned inf"
        elapsed = run.elapsed()
        if self.deadline is not None and elapsed >= self.deadline:
            return None, f"no time left before the deadline of {_seconds(self.deadline)}"
        if self.deadline is not None and elapsed + delay > self.deadline:
            return None, (f"attempt {n + 1} would start at t={_seconds(elapsed + delay)}, "
                          f"after the deadline of {_seconds(self.deadline)}")
        if self.budget is not None and self.budget.withdraw(1) == 0:
            return None, "the retry budget is spent"
        if self.before_sleep is not None:
            self.before_sleep(RetryEvent(n, error, delay, elapsed))
        return delay, ""

    def _give_up(self, error: BaseException, history: list[tuple[int, float, str]],
                 why: str, run: _Run) -> BaseException:
        """Add the attempt history to ``error`` as PEP 678 notes; return it, to be re-raised."""
        if not self.notes:
            return error
        of = "" if self.attempts is None else f"/{self.attempts}"
        n = history[-1][0]
        error.add_note(f"retry: attempt {n}{of} failed; gave up ({why}), "
                       f"{_seconds(run.elapsed())} after the first attempt started")
        earlier = history[:-1]
        shown = earlier[-_MAX_NOTED:]
        if len(earlier) > len(shown):
            error.add_note(f"retry: {len(earlier) - len(shown)} earlier failed attempts not listed")
        for k, t, text in shown:
            error.add_note(f"retry: attempt {k}{of} failed at t={_seconds(t)}: {text}")
        return error

    # -- for attempt in Retry(...): with attempt: ... -------------------------------------------

    def __iter__(self) -> Iterator[Attempt]:
        """``for attempt in Retry(...): with attempt: ...`` (notebook 06, section 4).
        Raises: TypeError at the start if ``sleep`` is async; at the end, the last error."""
        sleep = self.sleep if self.sleep is not None else time.sleep
        if _is_async_callable(sleep):
            raise TypeError(
                "sleep: an async function cannot be awaited by a plain `for` loop (it would be "
                "skipped); use `async for attempt in Retry(...)`, or a plain sleep function")
        run = _Run(self.clock if self.clock is not None else time.monotonic, self.deadline,
                   self.attempts)
        previous, n, history = 0.0, 0, []
        while True:
            n += 1
            attempt = Attempt(n, self.on, run)
            yield attempt  # the caller's `with attempt:` block runs here
            error = attempt._outcome()
            if error is None:
                if self.budget is not None:
                    self.budget.deposit(1)
                return
            history.append((n, run.elapsed(), _describe_error(error)))
            delay, why = self._next_delay(n, previous, run, error)
            if delay is None:
                raise self._give_up(error, history, why, run)  # the original, traceback kept
            pending = sleep(delay)
            if inspect.isawaitable(pending):
                if inspect.iscoroutine(pending):
                    pending.close()
                raise TypeError("sleep: returned an awaitable, which a plain `for` loop cannot "
                                "await; use `async for attempt in Retry(...)`") from error
            previous = delay

    # -- async for attempt in Retry(...): with attempt: ... -------------------------------------

    def __aiter__(self) -> AsyncIterator[Attempt]:
        """``async for attempt in Retry(...): with attempt: ...`` (notebook 06, section 4.3).
        Raises: at the end, the last error."""
        return self._async_attempts()

    async def _async_attempts(self) -> AsyncIterator[Attempt]:
        sleep = self.sleep if self.sleep is not None else asyncio.sleep
        run = _Run(self.clock if self.clock is not None else time.monotonic, self.deadline,
                   self.attempts)
        previous, n, history = 0.0, 0, []
        while True:
            n += 1
            attempt = Attempt(n, self.on, run)
            yield attempt
            error = attempt._outcome()
            if error is None:
                if self.budget is not None:
                    self.budget.deposit(1)
                return
            history.append((n, run.elapsed(), _describe_error(error)))
            delay, why = self._next_delay(n, previous, run, error)
            if delay is None:
                raise self._give_up(error, history, why, run)
            pending = sleep(delay)
            if inspect.isawaitable(pending):
                await pending
            previous = delay

    # -- @Retry(...) ---------------------------------------------------------------------------

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Decorate ``fn`` (plain or async: ``async def``, or an object with an
        ``async def __call__``) so that each call is retried. The wrapper keeps ``fn``'s name,
        docstring, signature, ``__defaults__`` and ``__kwdefaults__``.

        Raises: TypeError if ``fn`` is not callable, or is a generator function (sync or async):
        its body runs only when iterated, after the decorator returned, so it could not be
        retried; retry inside the generator instead.
        """
        if not callable(fn):
            raise TypeError(f"fn: Retry(...) decorates a callable, got {type(fn).__name__}")
        call = fn if not hasattr(fn, "__call__") or inspect.isroutine(fn) else fn.__call__
        for target in (fn, call):
            if inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target):
                name = getattr(fn, "__qualname__", type(fn).__name__)
                raise TypeError(
                    f"fn: {name} is a generator function; a decorator cannot retry it (its body "
                    "runs later, while it is iterated). Put `for attempt in Retry(...): with "
                    "attempt:` inside the generator, around the code to retry")
        assigned = functools.WRAPPER_ASSIGNMENTS + ("__defaults__", "__kwdefaults__")
        if _is_async_callable(fn):

            @functools.wraps(fn, assigned=assigned)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with aclosing(self._async_attempts()) as attempts:
                    async for attempt in attempts:
                        with attempt:
                            return await fn(*args, **kwargs)
                raise AssertionError("unreachable: the loop returns or raises")

            return async_wrapper

        @functools.wraps(fn, assigned=assigned)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for attempt in self:
                with attempt:
                    return fn(*args, **kwargs)
            raise AssertionError("unreachable: the loop returns or raises")

        return wrapper

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``, retried (a coroutine to await if ``fn`` is async).
        Raises: as :meth:`__call__`, then whatever the last attempt raised."""
        return self(fn)(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# test doubles: a fake clock and a scripted failing callable
# --------------------------------------------------------------------------------------------


class FakeClock:
    """A clock that only moves when told to: ``sleep`` records the delay and advances ``now``
    (the test bench of notebook 06, section 1).

    Use ``clock`` (or the object itself) as the ``clock=`` argument and ``sleep`` / ``asleep`` as
    ``sleep=``. ``asleep`` also yields once to the event loop, so that a task can be cancelled
    while it "sleeps" and other tasks run meanwhile.

    Raises: ValueError/TypeError if ``start`` is not a finite number.
    """

    def __init__(self, start: float = 0.0) -> None:
        self.start = real_scalar(start, "start")
        self.now = self.start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        """The current fake time (so the object itself can be passed as ``clock=``)."""
        return self.now

    def clock(self) -> float:
        """The current fake time."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Record ``seconds`` and advance the time. Raises: ValueError/TypeError if ``seconds``
        is not a finite number >= 0."""
        seconds = real_scalar(seconds, "seconds", low=0.0)
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        """:meth:`sleep`, then one turn of the event loop. Raises: as :meth:`sleep`."""
        self.sleep(seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        """Let time pass without sleeping (e.g. the duration of an attempt).
        Raises: as :meth:`sleep`."""
        self.now += real_scalar(seconds, "seconds", low=0.0)

    @property
    def slept(self) -> float:
        """Total seconds slept."""
        return float(sum(self.sleeps))

    def reset(self) -> None:
        """Back to ``start``, no sleeps recorded."""
        self.now = self.start
        self.sleeps.clear()


class Flaky:
    """A callable that raises the scripted exceptions in order, then returns ``value``.

    ``failures`` is a sequence of exception instances (or classes, or ``None`` for "succeed this
    call"); call ``i`` (from 1) raises ``failures[i-1]`` if there is one and it is not ``None``.
    ``calls`` counts the calls and ``raised`` keeps the exception objects actually raised, so a
    test can check that the error a retry loop ends with *is* the last one raised. With a
    ``clock``, every call advances it by ``cost`` seconds.

    Raises: TypeError if ``failures`` holds anything else or ``clock`` is not a FakeClock;
    ValueError if ``cost`` is not a finite number >= 0.
    """

    def __init__(self, failures: Iterable[BaseException | type[BaseException] | None] = (),
                 value: Any = 42, cost: float = 0.0, clock: FakeClock | None = None) -> None:
        if isinstance(failures, (str, bytes)) or not isinstance(failures, Iterable):
            raise TypeError(f"failures: expected a sequence of exceptions, got "
                            f"{type(failures).__name__}")
        self.failures = list(failures)
        for f in self.failures:
            if not (f is None or isinstance(f, BaseException)
                    or (isinstance(f, type) and issubclass(f, BaseException))):
                raise TypeError(
                    f"failures: expected exceptions, exception types or None, got {f!r}")
        if clock is not None and not isinstance(clock, FakeClock):
            raise TypeError(f"clock: expected a FakeClock or None, got {type(clock).__name__}")
        self.value = value
        self.cost = real_scalar(cost, "cost", low=0.0)
        self.clock = clock
        self.calls = 0
        self.raised: list[BaseException] = []

    @classmethod
    def failing(cls, k: int, kind: type[BaseException] = ConnectionError, value: Any = 42,
                **kwargs: Any) -> Flaky:
        """Fail ``k`` times with fresh ``kind`` instances ("failure 1", ...), then succeed.
        Raises: ValueError/TypeError if ``k`` is not an int in [0, 10**6] or ``kind`` is not an
        exception type."""
        k = size(k, "k", low=0, high=10**6)
        if not (isinstance(kind, type) and issubclass(kind, BaseException)):
            raise TypeError(f"kind: expected an exception type, got {kind!r}")
        return cls([kind(f"failure {i + 1}") for i in range(k)], value=value, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """One call: raise the next scripted failure, or return ``value``."""
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


def exponential_delays(n: int | np.ndarray, initial: float = 1.0, base: float = 2.0,
                       cap: float = math.inf) -> np.ndarray:
    """``w_k = min(cap, initial * base**(k-1))`` for k = 1..n (an int n) or for each k of an
    array of attempt numbers (notebook 06, section 7). An uncapped delay beyond float range is
    ``inf``.

    Raises: TypeError if ``n`` is a float or bool, or holds non-numbers; ValueError if an attempt
    number is not a whole number >= 1, ``initial``/``base``/``cap`` are out of range (``base >= 1``,
    ``initial`` finite >= 0, ``cap >= 0``), or the result would exceed the memory budget.
    """
    initial = real_scalar(initial, "initial", low=0.0)
    base = real_scalar(base, "base", low=1.0)
    cap = real_scalar(cap, "cap", low=0.0, allow_inf=True)
    if np.ndim(n) == 0 and not isinstance(n, np.ndarray):
        count = size(n, "n", low=0)
        check_memory(16.0 * count, "n")
        ks = np.arange(1, count + 1, dtype=float)
    else:
        ks = real_array(n, "n", low=1.0)
        if np.any(ks != np.floor(ks)):
            raise ValueError("n: expected whole attempt numbers, got a fraction")
        check_memory(16.0 * ks.size, "n")
    with np.errstate(over="ignore"):
        raw = initial * np.power(base, ks - 1.0)
    return np.minimum(cap, raw)


def jittered_delays(delays: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Apply ``kind`` jitter to an array of delays ``w``: "none" (``w``), "full" (``U(0, w)``) or
    "equal" (``w/2 + U(0, w/2)``) (notebook 06, section 7). A new array; the input is not changed.

    Raises: ValueError if ``delays`` holds NaN, inf or a negative number, or ``kind`` is unknown;
    TypeError if ``rng`` is not a ``numpy.random.Generator`` (for "full" and "equal").
    """
    d = real_array(delays, "delays", low=0.0)
    kind = choice(kind, "kind", ("none", "full", "equal"))
    if kind == "none":
        return d
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    if kind == "full":
        return rng.uniform(0.0, 1.0, d.shape) * d
    return d / 2 + rng.uniform(0.0, 1.0, d.shape) * d / 2


@dataclass
class HerdResult:
    """Per-slot load and per-client outcome of :func:`simulate_herd`."""

    arrivals: np.ndarray  # requests that reached the server in each slot
    served: np.ndarray  # requests that succeeded in each slot
    done_at: np.ndarray  # per client: end of the slot it succeeded in (inf if it gave up/never)
    calls: np.ndarray  # per client: requests sent
    params: dict = field(default_factory=dict)
    refused: int = 0  # retries refused by the retry budget (those clients gave up)

    @property
    def fraction_served(self) -> float:
        """Fraction of the clients that were served before giving up or the horizon."""
        return float(np.mean(np.isfinite(self.done_at)))

    @property
    def total_calls(self) -> int:
        """Requests sent by all clients together (first attempts and retries)."""
        return int(self.calls.sum())

    def time_to_serve(self, q: float = 1.0) -> float:
        """First time by which a fraction ``q`` in (0, 1] of the clients were served (inf if
        never). Raises: ValueError if ``q`` is not in (0, 1]."""
        q = real_scalar(q, "q", low=0.0, high=1.0, low_open=True)
        t = np.sort(np.where(np.isfinite(self.done_at), self.done_at, np.inf))
        k = max(int(math.ceil(q * t.size)) - 1, 0)
        return float(t[k])


def simulate_herd(n_clients: int, capacity: int, *, jitter: str, rng: np.random.Generator,
                  outage: int = 10, base: float = 1.0, cap: float = 64.0,
                  max_attempts: int = 50, horizon: int = 4000,
                  overload: str = "shed", budget: RetryBudget | None = None,
                  spread: float = 0.0) -> HerdResult:
    """Many clients retrying against one server that is down, then recovers (notebook 06,
    sections 7.1 and 8.1).

    Time runs in slots of length 1. All clients send their first request at t = 0 (or, with
    ``spread > 0``, at times drawn uniformly from [0, spread): a steady flow of new work). A request
    sent at time t is handled in slot ``floor(t)`` and answered at the end of that slot. During
    the first ``outage`` slots every request fails. Afterwards the server handles ``capacity``
    requests per slot: with ``overload="shed"`` it serves the earliest ``capacity`` arrivals of the
    slot and rejects the rest; with ``overload="collapse"`` a slot with more than ``capacity``
    arrivals fails them all (an overloaded server that times out for everyone). A client whose
    request failed for the n-th time sleeps ``d_n`` after the answer, then retries, and gives up
    after ``max_attempts`` requests. ``d_n`` is ``min(cap, base 2^(n-1))`` with ``jitter`` in
    {"none", "full", "equal"} applied, or the decorrelated rule ``min(cap, U(base, 3 d_{n-1}))``.

    With a ``budget`` (one :class:`RetryBudget` shared by all clients, as when they are the
    callers inside one service), each slot first deposits its successes, then every client that
    would retry asks for a token, earliest arrival first; a client refused a token gives up.
    The budget object is used (and changed) in place.

    Raises: ValueError/TypeError for sizes that are not positive ints (``n_clients``,
    ``capacity``, ``max_attempts``, ``horizon`` up to 10**7; ``outage >= 0``), an unknown
    ``jitter`` or ``overload``, ``base``/``cap`` not finite with ``0 < base <= cap``, a negative
    or non-finite ``spread``, an ``rng``
    that is not a numpy Generator, a ``budget`` that is not a RetryBudget, or too much memory.
    """
    n_clients = size(n_clients, "n_clients", low=1, high=10**7)
    capacity = size(capacity, "capacity", low=1)
    max_attempts = size(max_attempts, "max_attempts", low=1)
    horizon = size(horizon, "horizon", low=1, high=10**7)
    outage = size(outage, "outage", low=0)
    jitter = choice(jitter, "jitter", JITTERS)
    overload = choice(overload, "overload", ("shed", "collapse"))
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    base = real_scalar(base, "base", low=0.0, low_open=True)
    cap = real_scalar(cap, "cap", low=0.0)
    if cap < base:
        raise ValueError(f"cap: expected a value >= base ({base:g}), got {cap:g}")
    if budget is not None and not isinstance(budget, RetryBudget):
        raise TypeError(f"budget: expected a RetryBudget or None, got {type(budget).__name__}")
    spread = real_scalar(spread, "spread", low=0.0)
    check_memory(8.0 * (2 * horizon + 6 * n_clients), "n_clients")

    t_next = np.sort(rng.uniform(0.0, spread, n_clients)) if spread > 0 else np.zeros(n_clients)
    calls = np.zeros(n_clients, dtype=np.int64)
    prev = np.full(n_clients, base)
    done_at = np.full(n_clients, np.inf)
    waiting = np.ones(n_clients, dtype=bool)
    arrivals = np.zeros(horizon, dtype=np.int64)
    served = np.zeros(horizon, dtype=np.int64)
    refused = 0
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
        if budget is not None:
            budget.deposit(int(won.size))
            if lost.size:
                lost = lost[np.argsort(t_next[lost], kind="stable")]
                granted = budget.withdraw(int(lost.size))
                refused += int(lost.size) - granted
                waiting[lost[granted:]] = False
                lost = lost[:granted]
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
                  overload=overload, spread=spread,
                  budget=None if budget is None else (budget.capacity, budget.ratio))
    return HerdResult(arrivals, served, done_at, calls, params, refused)
