"""Unit and property tests of helpers/retry.py (notebook 06: retry code).

Every test runs on a FakeClock: no test sleeps for real.
"""

import asyncio
import math
import random
import threading
import traceback

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import retry as R
from helpers.retry import (Attempt, DecorrelatedJitter, EqualJitter, Exponential, FakeClock,
                           Fixed, Flaky, FullJitter, Retry, RetryEvent)

FEW = settings(max_examples=60, deadline=None)


def run_block(retry: Retry, flaky: Flaky):
    """The block form; returns ('ok', value) or ('raised', exception)."""
    try:
        for attempt in retry:
            with attempt:
                value = flaky()
    except BaseException as e:  # noqa: BLE001 - the tests look at whatever came out
        return "raised", e
    return "ok", value


def run_decorated(retry: Retry, flaky: Flaky):
    try:
        return "ok", retry(flaky)()
    except BaseException as e:  # noqa: BLE001
        return "raised", e


def run_async(retry: Retry, flaky: Flaky):
    async def main():
        async for attempt in retry:
            with attempt:
                await asyncio.sleep(0)
                value = flaky()
        return value

    try:
        return "ok", asyncio.run(main())
    except BaseException as e:  # noqa: BLE001
        return "raised", e


def run_async_decorated(retry: Retry, flaky: Flaky):
    async def target():
        await asyncio.sleep(0)
        return flaky()

    try:
        return "ok", asyncio.run(retry(target)())
    except BaseException as e:  # noqa: BLE001
        return "raised", e


RUNNERS = [run_block, run_decorated, run_async, run_async_decorated]

# --- hypothesis: failure patterns ------------------------------------------------------------

waits = st.one_of(
    st.floats(0, 10, allow_nan=False).map(Fixed),
    st.tuples(st.floats(0.01, 5), st.floats(1, 3), st.floats(0.5, 100)).map(
        lambda t: Exponential(initial=t[0], base=t[1], cap=t[2])),
)
# a pattern: for each call, None (succeed) or an exception class to raise
patterns = st.lists(st.sampled_from([None, ConnectionError, TimeoutError, ValueError]),
                    max_size=10)


def expected_calls(pattern, attempts):
    first_ok = next((i for i, p in enumerate(pattern) if p is None), len(pattern))
    return min(first_ok + 1, attempts)  # past the end of the pattern every call succeeds


@FEW
@given(pattern=patterns, attempts=st.integers(1, 8), wait=waits,
       runner=st.sampled_from(RUNNERS))
def test_counts_sleeps_and_outcome_for_any_failure_pattern(pattern, attempts, wait, runner):
    clock = FakeClock()
    sleep = clock.asleep if runner in (run_async, run_async_decorated) else clock.sleep
    flaky = Flaky(pattern, value="done")
    kind, out = runner(Retry(attempts, wait=wait, sleep=sleep), flaky)
    calls = expected_calls(pattern, attempts)
    assert flaky.calls == calls <= attempts  # never more calls than allowed
    assert len(clock.sleeps) == calls - 1  # sleeps = calls - 1: none after the last attempt
    expected_waits = []
    for n in range(1, calls):
        expected_waits.append(wait(n, expected_waits[-1] if expected_waits else 0.0))
    assert clock.sleeps == pytest.approx(expected_waits, rel=1e-12, abs=0)
    assert clock.slept == pytest.approx(sum(expected_waits), rel=1e-12, abs=1e-12)
    if calls <= len(pattern) and pattern[calls - 1] is not None:
        assert kind == "raised" and out is flaky.raised[-1]  # the very exception, not a wrapper
    else:
        assert kind == "ok" and out == "done"


@FEW
@given(k=st.integers(0, 12), attempts=st.integers(1, 12), delay=st.floats(0.1, 5),
       deadline=st.floats(0, 40))
def test_deadline_never_overrun_by_a_sleep(k, attempts, delay, deadline):
    clock = FakeClock()
    flaky = Flaky.failing(k, clock=clock, cost=0.25)  # each attempt takes 0.25 s of fake time
    kind, out = run_block(Retry(attempts, wait=Fixed(delay), deadline=deadline,
                                sleep=clock.sleep, clock=clock), flaky)
    # the loop sleeps only if (elapsed + delay) <= deadline at the moment it decides
    n_sleeps = len(clock.sleeps)
    assert n_sleeps == flaky.calls - 1
    assert n_sleeps * 0.25 + n_sleeps * delay <= deadline + 1e-9
    assert flaky.calls <= attempts
    if kind == "raised":
        assert out is flaky.raised[-1]
        stopped_by_attempts = flaky.calls == attempts
        next_sleep_end = flaky.calls * 0.25 + n_sleeps * delay + delay
        assert stopped_by_attempts or next_sleep_end > deadline - 1e-9
    else:
        assert flaky.calls == k + 1


def test_attempts_none_with_deadline_only():
    clock = FakeClock()
    flaky = Flaky.failing(1000)
    kind, out = run_block(Retry(None, wait=Fixed(1.0), deadline=10.0, sleep=clock.sleep,
                                clock=clock), flaky)
    assert kind == "raised" and flaky.calls == 11 and clock.slept == 10.0


# --- the post's example (5 tries, 2 s) ---------------------------------------------------------


@pytest.mark.parametrize("k, calls, slept, outcome", [
    (0, 1, 0, "ok"), (1, 2, 2, "ok"), (2, 3, 4, "ok"), (4, 5, 8, "ok"),
    (5, 5, 8, "raised"), (7, 5, 8, "raised")])
def test_post_matrix(k, calls, slept, outcome):
    clock = FakeClock()
    flaky = Flaky.failing(k, NameError)
    kind, out = run_block(Retry(5, wait=Fixed(2), sleep=clock.sleep), flaky)
    assert (flaky.calls, clock.slept, kind) == (calls, slept, outcome)
    if kind == "raised":
        assert type(out) is NameError and str(out) == "failure 5"


def test_traceback_reaches_the_failing_line():
    def deep_body():
        raise ConnectionError("boom")

    try:
        for attempt in Retry(2, wait=Fixed(0), sleep=FakeClock().sleep):
            with attempt:
                deep_body()
    except ConnectionError as e:
        names = [f.name for f in traceback.extract_tb(e.__traceback__)]
    assert "deep_body" in names and "__iter__" in names


# --- what is never retried -------------------------------------------------------------------


@pytest.mark.parametrize("kind", [KeyboardInterrupt, SystemExit, GeneratorExit,
                                  asyncio.CancelledError])
def test_base_exceptions_propagate_at_once(kind):
    clock = FakeClock()
    flaky = Flaky([kind("stop")])
    got, out = run_block(Retry(5, on=Exception, wait=Fixed(2), sleep=clock.sleep), flaky)
    assert got == "raised" and out is flaky.raised[0]
    assert flaky.calls == 1 and clock.sleeps == []


def test_non_matching_exception_propagates_at_once():
    clock = FakeClock()
    flaky = Flaky([TypeError("bug"), None])
    kind, out = run_block(Retry(5, on=(ConnectionError, TimeoutError), sleep=clock.sleep), flaky)
    assert kind == "raised" and isinstance(out, TypeError) and flaky.calls == 1
    assert clock.sleeps == []


def test_subclass_of_on_is_retried():
    clock = FakeClock()
    flaky = Flaky([ConnectionRefusedError("x"), None])
    kind, _ = run_block(Retry(5, on=ConnectionError, wait=Fixed(1), sleep=clock.sleep), flaky)
    assert kind == "ok" and flaky.calls == 2 and clock.sleeps == [1.0]


@pytest.mark.parametrize("on", [BaseException, KeyboardInterrupt, (ValueError, SystemExit),
                                asyncio.CancelledError])
def test_refuses_to_retry_base_exceptions(on):
    with pytest.raises(ValueError, match="on="):
        Retry(3, on=on)


def test_generator_closed_inside_the_block_finishes_cleanly():
    clock = FakeClock()

    def worker():
        for attempt in Retry(5, wait=Fixed(2), sleep=clock.sleep):
            with attempt:
                yield "working"

    g = worker()
    assert next(g) == "working"
    g.close()  # GeneratorExit at the yield: must not be swallowed
    assert clock.sleeps == []
    with pytest.raises(StopIteration):
        next(g)


def test_task_cancellation_propagates():
    clock = FakeClock()
    entered = []

    async def main():
        gate = asyncio.Event()

        async def work():
            async for attempt in Retry(5, wait=Fixed(2), sleep=clock.asleep):
                with attempt:
                    entered.append(attempt.number)
                    await gate.wait()

        task = asyncio.create_task(work())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled()

    assert asyncio.run(main()) is True
    assert entered == [1] and clock.sleeps == []


def test_cancellation_during_the_sleep_propagates():
    clock = FakeClock()
    flaky = Flaky.failing(10)

    async def main():
        async def work():
            async for attempt in Retry(5, wait=Fixed(2), sleep=clock.asleep):
                with attempt:
                    flaky()

        task = asyncio.create_task(work())
        await asyncio.sleep(0)  # first attempt fails, the loop is inside asleep(2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert flaky.calls == 1 and clock.sleeps == [2.0]


# --- control flow inside the block ----------------------------------------------------------


def test_break_and_continue_count_as_success():
    clock = FakeClock()
    flaky = Flaky.failing(1)
    for attempt in Retry(5, wait=Fixed(1), sleep=clock.sleep):
        with attempt:
            flaky()
            break
    assert flaky.calls == 2 and clock.sleeps == [1.0]
    n = 0
    for attempt in Retry(5, sleep=clock.sleep):
        with attempt:
            n += 1
            continue
    assert n == 1


def test_return_inside_the_block():
    def f():
        for attempt in Retry(5, wait=Fixed(0), sleep=FakeClock().sleep):
            with attempt:
                return "early"
        return "late"

    assert f() == "early"


def test_skipping_the_with_block_is_an_error():
    with pytest.raises(RuntimeError, match="not run inside"):
        for _attempt in Retry(3, sleep=FakeClock().sleep):
            pass


def test_attempt_used_twice_is_an_error():
    with pytest.raises(RuntimeError, match="already used"):
        for attempt in Retry(3, sleep=FakeClock().sleep):
            with attempt:
                pass
            with attempt:
                pass


def test_with_attempt_as_binds_the_attempt():
    for attempt in Retry(3, sleep=FakeClock().sleep):
        with attempt as a:
            assert a is attempt and a.number == 1
    assert isinstance(attempt, Attempt)


# --- one Retry object shared ------------------------------------------------------------------


def test_nested_loops_sharing_one_retry_object():
    clock = FakeClock()
    shared = Retry(3, on=ValueError, wait=Fixed(1), sleep=clock.sleep)
    outer_calls = inner_calls = 0
    with pytest.raises(ValueError, match="outer"):
        for outer in shared:
            with outer:
                outer_calls += 1
                for inner in shared:
                    with inner:
                        inner_calls += 1  # inner succeeds at once
                raise ValueError("outer")
    assert (outer_calls, inner_calls) == (3, 3)
    assert clock.sleeps == [1.0, 1.0]


def test_interleaved_loops_on_one_retry_object():
    clock = FakeClock()
    shared = Retry(3, wait=Fixed(1), sleep=clock.sleep)
    it_a, it_b = iter(shared), iter(shared)
    a1, b1 = next(it_a), next(it_b)
    with a1:
        raise ConnectionError("A fails")
    with b1:
        pass  # B succeeds
    a2 = next(it_a)  # A must try again, B's success must not leak into A
    assert a2.number == 2
    with pytest.raises(StopIteration):
        next(it_b)


def test_threads_sharing_one_retry_object():
    shared = Retry(4, wait=Fixed(0), sleep=lambda s: None)
    results = {}

    def worker(name, k):
        flaky = Flaky.failing(k)
        results[name] = run_block(shared, flaky)[0], flaky.calls

    threads = [threading.Thread(target=worker, args=(i, i % 6)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(12):
        k = i % 6
        assert results[i] == (("ok", k + 1) if k < 4 else ("raised", 4))


# --- hook, decorator details ------------------------------------------------------------------


def test_before_sleep_hook_sees_each_sleep():
    clock = FakeClock()
    events: list[RetryEvent] = []
    flaky = Flaky.failing(3, clock=clock, cost=0.5)
    run_block(Retry(5, wait=Exponential(1), sleep=clock.sleep, clock=clock,
                    before_sleep=events.append), flaky)
    assert [e.attempt for e in events] == [1, 2, 3]
    assert [e.delay for e in events] == [1.0, 2.0, 4.0]
    assert [e.exception for e in events] == flaky.raised
    assert [e.elapsed for e in events] == [0.5, 2.0, 4.5]


def test_no_hook_call_on_success_or_give_up():
    events = []
    run_block(Retry(2, sleep=FakeClock().sleep, before_sleep=events.append), Flaky.failing(5))
    assert len(events) == 1


def test_decorator_keeps_metadata_and_call_helper():
    clock = FakeClock()

    @Retry(3, wait=Fixed(1), sleep=clock.sleep)
    def fetch(x, *, y=1):
        """Docstring."""
        return x + y

    assert fetch.__name__ == "fetch" and fetch.__doc__ == "Docstring."
    assert fetch(1, y=2) == 3
    flaky = Flaky.failing(2, value=7)
    assert Retry(3, wait=Fixed(1), sleep=clock.sleep).call(flaky) == 7


def test_default_sleep_is_looked_up_when_the_loop_starts(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(R.time, "sleep", clock.sleep)
    run_block(Retry(3, wait=Fixed(2)), Flaky.failing(1))
    assert clock.sleeps == [2.0]


def test_async_sleep_may_be_a_plain_function():
    clock = FakeClock()
    kind, out = run_async(Retry(3, wait=Fixed(2), sleep=clock.sleep), Flaky.failing(2))
    assert kind == "ok" and clock.sleeps == [2.0, 2.0]


# --- waits -------------------------------------------------------------------------------------


def test_exponential_values_and_cap():
    w = Exponential(initial=1, base=2, cap=10)
    assert [w(n, 0) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert Exponential(0.5, 3)(3, 0) == 4.5
    assert Exponential(1, 2, cap=60)(10_000, 0) == 60  # no overflow
    np.testing.assert_array_equal(R.exponential_delays(6, 1, 2, 10), [1, 2, 4, 8, 10, 10])


@FEW
@given(n=st.integers(1, 40), seed=st.integers(0, 2**32 - 1), initial=st.floats(0.01, 3),
       cap=st.floats(0.5, 100))
def test_jitter_bounds(n, seed, initial, cap):
    inner = Exponential(initial, 2.0, cap)
    w = inner(n, 0)
    for rng in (random.Random(seed), np.random.default_rng(seed)):
        full = FullJitter(inner, rng)(n, 0)
        equal = EqualJitter(inner, rng)(n, 0)
        assert 0 <= full <= w and w / 2 <= equal <= w
        assert isinstance(full, float) and isinstance(equal, float)
    dec = DecorrelatedJitter(base=initial, cap=max(cap, initial), rng=random.Random(seed))
    prev = 0.0
    for k in range(1, 6):
        d = dec(k, prev)
        assert initial <= d <= max(cap, initial) and d <= 3 * max(prev, initial)
        prev = d


def test_jitter_is_reproducible_with_a_seeded_rng():
    a = [FullJitter(Exponential(1), random.Random(0))(n, 0) for n in range(1, 6)]
    b = [FullJitter(Exponential(1), random.Random(0))(n, 0) for n in range(1, 6)]
    assert a == b and len(set(a)) == 5


def test_jitter_means():
    rng = np.random.default_rng(0)
    d = np.full(200_000, 8.0)
    full, equal = R.jittered_delays(d, "full", rng), R.jittered_delays(d, "equal", rng)
    # standard errors: 8/sqrt(12 * 2e5) = 0.005 and half that
    assert abs(full.mean() - 4.0) < 0.03 and abs(equal.mean() - 6.0) < 0.015
    assert full.min() >= 0 and equal.min() >= 4 and max(full.max(), equal.max()) <= 8


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(attempts=0), ValueError, "attempts"),
    (dict(attempts=-1), ValueError, "attempts"),
    (dict(attempts=2.5), TypeError, "attempts"),
    (dict(attempts=True), TypeError, "attempts"),
    (dict(attempts=None), ValueError, "deadline"),
    (dict(deadline=-1.0), ValueError, "deadline"),
    (dict(on="ValueError"), TypeError, "on"),
    (dict(on=()), ValueError, "on"),
    (dict(wait=3), TypeError, "wait"),
    (dict(sleep="no"), TypeError, "sleep"),
    (dict(before_sleep=1), TypeError, "before_sleep"),
])
def test_bad_arguments(kwargs, err, match):
    with pytest.raises(err, match=match):
        Retry(**kwargs)


def test_bad_waits():
    with pytest.raises(ValueError, match="delay"):
        Fixed(-1)
    with pytest.raises(ValueError, match="delay"):
        Fixed(math.nan)
    with pytest.raises(ValueError, match="base"):
        Exponential(1, 0.5)
    with pytest.raises(TypeError, match="rng"):
        FullJitter(Exponential(), rng=0)
    with pytest.raises(ValueError, match="cap"):
        DecorrelatedJitter(base=2, cap=1, rng=random.Random(0))
    kind, out = run_block(Retry(3, wait=lambda n, p: -1.0, sleep=FakeClock().sleep),
                          Flaky.failing(1))
    assert kind == "raised" and isinstance(out, ValueError) and "wait returned" in str(out)
    with pytest.raises(TypeError, match="decorates"):
        Retry(3)(5)


# --- the herd simulation -----------------------------------------------------------------------


def test_herd_without_jitter_stays_in_lockstep():
    res = R.simulate_herd(100, 5, jitter="none", rng=np.random.default_rng(0), outage=3,
                          overload="collapse", max_attempts=12)
    assert res.fraction_served == 0.0 and res.total_calls == 100 * 12
    nz = res.arrivals[res.arrivals > 0]
    assert np.all(nz == 100)  # every wave carries every client


def test_herd_conservation_and_jitter_helps():
    for jitter in R.JITTERS:
        res = R.simulate_herd(200, 10, jitter=jitter, rng=np.random.default_rng(1), outage=10)
        assert res.arrivals.sum() == res.total_calls
        assert res.served.sum() == np.isfinite(res.done_at).sum()
        assert res.served.max() <= 10 and res.served[:10].sum() == 0
    none = R.simulate_herd(200, 10, jitter="none", rng=np.random.default_rng(1))
    full = R.simulate_herd(200, 10, jitter="full", rng=np.random.default_rng(1))
    assert full.time_to_serve() < none.time_to_serve() and full.total_calls < none.total_calls


def test_herd_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="jitter"):
        R.simulate_herd(10, 1, jitter="some", rng=rng)
    with pytest.raises(ValueError, match="overload"):
        R.simulate_herd(10, 1, jitter="full", rng=rng, overload="x")
    with pytest.raises(TypeError, match="rng"):
        R.simulate_herd(10, 1, jitter="full", rng=random.Random(0))
    with pytest.raises(ValueError, match="n_clients"):
        R.simulate_herd(0, 1, jitter="full", rng=rng)
