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
    with pytest.raises(ValueError, match="^on: "):
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


# --- issue 15: each defect found by the review, with its fix -----------------------------------


def test_all_lists_every_public_name():
    public = {n for n, v in vars(R).items() if not n.startswith("_")
              and getattr(v, "__module__", R.__name__) == R.__name__ and not isinstance(v, type(R))}
    public |= {"JITTERS", "NEVER_RETRIED"}
    assert set(R.__all__) == public - {"annotations"}
    assert "JITTERS" in R.__all__ and "Wait" in R.__all__ and "RetryBudget" in R.__all__


def test_exponential_delays_needs_a_whole_count():
    with pytest.raises(TypeError, match="^n: "):
        R.exponential_delays(2.5)
    with pytest.raises(ValueError, match="^n: .*whole"):
        R.exponential_delays(np.array([1.0, 2.5]))
    with pytest.raises(ValueError, match="^n: "):
        R.exponential_delays(np.array([0, 1]))
    with pytest.raises(ValueError, match="^n: .*GiB"):
        R.exponential_delays(10**12)
    np.testing.assert_array_equal(R.exponential_delays(3), [1, 2, 4])
    np.testing.assert_array_equal(R.exponential_delays(np.array([3, 1])), [4, 1])
    assert R.exponential_delays(0).shape == (0,)


def test_jittered_delays_rejects_negative_and_nan():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="^delays: "):
        R.jittered_delays([-1.0, np.nan], "full", rng)
    with pytest.raises(ValueError, match="^delays: .*NaN"):
        R.jittered_delays([1.0, np.nan], "equal", rng)
    with pytest.raises(TypeError, match="^delays: .*complex"):
        R.jittered_delays(np.array([1 + 1j]), "full", rng)
    d = np.array([1.0, 2.0])
    out = R.jittered_delays(d, "none", None)
    assert out is not d and np.array_equal(out, d)


@pytest.mark.parametrize("n", [math.nan, 2.0, True, "3", None])
def test_wait_rejects_a_non_integer_attempt_number(n):
    for wait in (Fixed(1), Exponential(), DecorrelatedJitter(1, 10, random.Random(0))):
        with pytest.raises(TypeError, match="^n: "):
            wait(n, 0.0)
    with pytest.raises(ValueError, match="^n: "):
        Exponential()(0)


def test_exponential_cap_zero_gives_zero_and_keeps_the_users_error():
    assert [Exponential(initial=1, cap=0)(n) for n in (1, 5, 10**6)] == [0, 0, 0]
    assert Exponential(initial=4, cap=3)(1) == 3  # the cap wins from the first attempt
    clock = FakeClock()
    kind, out = run_block(Retry(3, wait=Exponential(initial=1, cap=0), sleep=clock.sleep),
                          Flaky.failing(5))
    assert kind == "raised" and type(out) is ConnectionError and clock.sleeps == [0, 0]


def test_exponential_overflow_is_inf_and_the_loop_gives_up_with_the_users_error():
    assert Exponential()(10**6) == math.inf  # uncapped and beyond float range
    assert Exponential(cap=60)(10**6) == 60
    assert Exponential(1e-300, 10.0)(400) == pytest.approx(1e99)  # the product is in range
    clock = FakeClock()
    flaky = Flaky.failing(5)
    kind, out = run_block(Retry(5, wait=lambda n, p: math.inf, sleep=clock.sleep), flaky)
    assert kind == "raised" and out is flaky.raised[-1] and clock.sleeps == []
    assert "the wait returned inf" in out.__notes__[0]


@pytest.mark.parametrize("make, match", [
    (lambda: DecorrelatedJitter(base=0, cap=1, rng=random.Random(0)), "^base: "),
    (lambda: DecorrelatedJitter(base=math.nan, cap=1, rng=random.Random(0)), "^base: "),
    (lambda: Fixed(math.inf), "^delay: "),
    (lambda: Fixed(-0.5), "^delay: "),
    (lambda: Exponential(initial=math.inf), "^initial: "),
    (lambda: Exponential(cap=math.nan), "^cap: "),
    (lambda: Retry(None, deadline=math.inf), "^deadline: "),
    (lambda: Retry(3, deadline=math.inf), "^deadline: "),
    (lambda: Retry(3, deadline=math.nan), "^deadline: "),
    (lambda: FakeClock(math.nan), "^start: "),
    (lambda: Flaky(cost=math.inf), "^cost: "),
    (lambda: R.RetryBudget(capacity=0.5), "^capacity: "),
    (lambda: R.RetryBudget(ratio=math.nan), "^ratio: "),
])
def test_degenerate_settings_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_complex_numbers_are_refused_not_cut():
    with pytest.raises(TypeError, match="^delay: "):
        Fixed(1 + 0j)
    with pytest.raises(TypeError, match="^deadline: "):
        Retry(3, deadline=1 + 0j)


def test_wait_returning_nan_is_an_error_chained_to_the_users_error():
    flaky = Flaky.failing(5)
    kind, out = run_block(Retry(3, wait=lambda n, p: math.nan, sleep=FakeClock().sleep), flaky)
    assert isinstance(out, ValueError) and "wait returned nan" in str(out)
    assert out.__cause__ is flaky.raised[0]


class AsyncCallable:
    def __init__(self, k):
        self.flaky = Flaky.failing(k)

    async def __call__(self):
        await asyncio.sleep(0)
        return self.flaky()


def test_object_with_async_call_is_retried_like_tenacity():
    import tenacity

    clock = FakeClock()
    ours = AsyncCallable(5)
    with pytest.raises(ConnectionError):
        asyncio.run(Retry(3, wait=Fixed(1), sleep=clock.asleep)(ours)())
    theirs = AsyncCallable(5)
    with pytest.raises(tenacity.RetryError):
        asyncio.run(tenacity.retry(stop=tenacity.stop_after_attempt(3),
                                   sleep=clock.asleep)(theirs)())
    assert ours.flaky.calls == theirs.flaky.calls == 3
    assert asyncio.run(Retry(3, sleep=clock.asleep)(AsyncCallable(2))()) == 42


def test_async_sleep_in_a_sync_loop_is_refused():
    clock = FakeClock()
    flaky = Flaky.failing(2)
    kind, out = run_block(Retry(3, sleep=clock.asleep), flaky)
    assert isinstance(out, TypeError) and str(out).startswith("sleep: ") and flaky.calls == 0
    made = []

    def returns_a_coroutine(seconds):
        made.append(clock.asleep(seconds))
        return made[-1]

    flaky = Flaky.failing(2)
    kind, out = run_block(Retry(3, sleep=returns_a_coroutine), flaky)
    assert isinstance(out, TypeError) and "awaitable" in str(out) and flaky.calls == 1
    assert out.__cause__ is flaky.raised[0]
    assert made[0].cr_frame is None  # closed, so no "coroutine was never awaited" warning


def test_wrapper_keeps_defaults_like_tenacity():
    import tenacity

    def fetch(x, y=2, *, z=3):
        return x + y + z

    ours = Retry(3)(fetch)
    theirs = tenacity.retry(stop=tenacity.stop_after_attempt(3))(fetch)
    for wrapped in (ours, theirs):
        assert wrapped.__defaults__ == (2,) and wrapped.__kwdefaults__ == {"z": 3}
    assert ours(1) == 6 and ours(1, 0, z=0) == 1

    async def afetch(x, y=2, *, z=3):
        return x + y + z

    aours = Retry(3)(afetch)
    assert aours.__defaults__ == (2,) and aours.__kwdefaults__ == {"z": 3}
    assert asyncio.run(aours(1)) == 6


def test_generator_functions_are_refused_at_decoration():
    def chunks():
        yield 1

    async def achunks():
        yield 1

    class Chunker:
        def __call__(self):
            yield 1

    for fn in (chunks, achunks, Chunker()):
        with pytest.raises(TypeError, match="^fn: .*generator function"):
            Retry(3)(fn)


def test_deadline_bounds_the_start_like_tenacity_stop_before_delay(monkeypatch):
    import types

    import tenacity

    clock = FakeClock()
    ours = Flaky.failing(100, clock=clock, cost=0.15)
    kind, _ = run_block(Retry(None, wait=Fixed(0), deadline=0.2, sleep=clock.sleep,
                              clock=clock), ours)
    ours_end = clock.now
    clock.reset()
    monkeypatch.setattr(tenacity, "time", types.SimpleNamespace(monotonic=clock))
    theirs = Flaky.failing(100, clock=clock, cost=0.15)
    with pytest.raises(ConnectionError):
        for attempt in tenacity.Retrying(stop=tenacity.stop_before_delay(0.2), reraise=True,
                                         sleep=clock.sleep):
            with attempt:
                theirs()
    assert kind == "raised" and ours.calls == theirs.calls == 2
    assert ours_end == clock.now == pytest.approx(0.30)  # 0.1 s past the 0.2 s deadline


# --- issue 17: exception groups, notes, the remaining deadline, the retry budget ---------------


async def _task_group_fetch(flaky):
    async with asyncio.TaskGroup() as tg:
        tg.create_task(asyncio.sleep(0))
        tg.create_task(_call_soon(flaky))


async def _call_soon(flaky):
    await asyncio.sleep(0)
    return flaky()


def test_exception_group_of_matching_errors_is_retried():
    import tenacity

    clock = FakeClock()
    flaky = Flaky.failing(2)

    async def main(retrying):
        async for attempt in retrying:
            with attempt:
                await _task_group_fetch(flaky)
        return "ok"

    assert asyncio.run(main(Retry(5, on=ConnectionError, sleep=clock.asleep))) == "ok"
    assert flaky.calls == 3 and clock.sleeps == [1.0, 1.0]
    theirs = Flaky.failing(2)
    with pytest.raises(ExceptionGroup):
        asyncio.run(tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(5), reraise=True, sleep=clock.asleep,
            retry=tenacity.retry_if_exception_type(ConnectionError)
        )(_task_group_fetch, theirs))
    assert theirs.calls == 1  # tenacity does not look inside the group


@pytest.mark.parametrize("group, retried", [
    (ExceptionGroup("g", [ConnectionError("a"), TimeoutError("b")]), True),
    (ExceptionGroup("g", [ConnectionError("a"), ExceptionGroup("h", [TimeoutError()])]), True),
    (ExceptionGroup("g", [ConnectionError("a"), ValueError("b")]), False),
    (BaseExceptionGroup("g", [ConnectionError("a"), KeyboardInterrupt()]), False),
    (BaseExceptionGroup("g", [asyncio.CancelledError()]), False),
])
def test_exception_group_matching(group, retried):
    flaky = Flaky([group, None])
    kind, out = run_block(Retry(3, on=(ConnectionError, TimeoutError), sleep=FakeClock().sleep),
                          flaky)
    if retried:
        assert kind == "ok" and flaky.calls == 2
    else:
        assert kind == "raised" and out is group and flaky.calls == 1
    # on=Exception retries any ExceptionGroup, never one carrying a base exception
    kind, out = run_block(Retry(3, sleep=FakeClock().sleep), Flaky([group, None]))
    assert (kind == "ok") == isinstance(group, Exception)


def test_notes_record_the_attempt_history_without_wrapping():
    clock = FakeClock()
    flaky = Flaky.failing(5, clock=clock, cost=0.5)
    kind, out = run_block(Retry(3, wait=Exponential(1), sleep=clock.sleep, clock=clock), flaky)
    assert kind == "raised" and out is flaky.raised[-1] and type(out) is ConnectionError
    assert out.__notes__ == [
        "retry: attempt 3/3 failed; gave up (no attempts left), 4.5 s after the first attempt "
        "started",
        "retry: attempt 1/3 failed at t=0.5 s: ConnectionError: failure 1",
        "retry: attempt 2/3 failed at t=2 s: ConnectionError: failure 2",
    ]
    text = "".join(traceback.format_exception(out))
    assert "attempt 1/3 failed at t=0.5 s" in text
    kind, out = run_block(Retry(3, sleep=FakeClock().sleep, notes=False), Flaky.failing(5))
    assert not hasattr(out, "__notes__")


def test_notes_list_at_most_ten_earlier_errors():
    flaky = Flaky.failing(30)
    kind, out = run_block(Retry(25, wait=Fixed(0), sleep=FakeClock().sleep), flaky)
    assert out.__notes__[0].startswith("retry: attempt 25/25 failed")
    assert out.__notes__[1] == "retry: 14 earlier failed attempts not listed"
    assert out.__notes__[2].startswith("retry: attempt 15/25 failed")
    assert len(out.__notes__) == 12


def test_remaining_deadline_bounds_the_total_when_passed_downstream():
    clock = FakeClock()

    def call_with_timeout(timeout, cost=0.15):
        """A call that takes `cost` seconds, or gives up after `timeout`."""
        clock.advance(min(cost, timeout))
        raise TimeoutError("no reply")

    seen = []
    with pytest.raises(TimeoutError) as info:
        for attempt in Retry(None, on=TimeoutError, wait=Fixed(0.01), deadline=0.2,
                             sleep=clock.sleep, clock=clock):
            with attempt:
                seen.append(attempt.remaining)
                call_with_timeout(attempt.remaining)
    assert clock.now <= 0.2 + 1e-12 and seen[0] == 0.2
    assert seen == pytest.approx([0.2, 0.04])
    assert "no time left before the deadline of 0.2 s" in info.value.__notes__[0]
    for attempt in Retry(2, sleep=clock.sleep):
        with attempt:
            assert attempt.remaining is None


def test_budget_caps_the_retries_of_every_loop_sharing_it():
    budget = R.RetryBudget(capacity=3, ratio=0.5)
    clock = FakeClock()
    flakies = [Flaky.failing(10) for _ in range(4)]
    for f in flakies:
        kind, out = run_block(Retry(5, budget=budget, sleep=clock.sleep), f)
        assert kind == "raised" and out is f.raised[-1]
    assert sum(f.calls - 1 for f in flakies) == 3 == budget.granted  # 3 retries in all, not 16
    assert "retry budget is spent" in flakies[-1].raised[-1].__notes__[0]
    for _ in range(2):
        assert run_block(Retry(5, budget=budget, sleep=clock.sleep), Flaky())[0] == "ok"
    assert budget.tokens == 1.0 and budget.successes == 2
    kind, _ = run_block(Retry(5, budget=budget, sleep=clock.sleep), Flaky.failing(1))
    assert kind == "ok" and budget.granted == 4


def test_budget_is_thread_safe():
    budget = R.RetryBudget(capacity=50, ratio=0.0)
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        for _ in range(20):
            budget.withdraw()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert budget.granted == 50 and budget.refused == 160 - 50


def test_herd_with_a_budget_obeys_its_bound():
    for jitter in ("none", "full"):
        for overload in ("shed", "collapse"):
            budget = R.RetryBudget(capacity=20, ratio=0.1)
            r = R.simulate_herd(200, 10, jitter=jitter, rng=np.random.default_rng(3),
                                overload=overload, budget=budget)
            retries = r.total_calls - 200
            served = int(np.isfinite(r.done_at).sum())
            assert retries == budget.granted <= 20 + 0.1 * served + 1e-9
            assert r.refused == budget.refused and r.arrivals.sum() == r.total_calls


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(budget=3), TypeError, "^budget: "),
    (dict(notes=1), TypeError, "^notes: "),
    (dict(clock=5), TypeError, "^clock: "),
    (dict(attempts=10**0 * 0.0), TypeError, "^attempts: "),
])
def test_more_bad_arguments(kwargs, err, match):
    with pytest.raises(err, match=match):
        Retry(**kwargs)


def test_no_endless_loop_when_attempts_end_exactly_at_the_deadline():
    clock = FakeClock()
    flaky = Flaky.failing(10**6)

    def cut_to(timeout):
        clock.advance(min(0.5, timeout))
        flaky()

    with pytest.raises(ConnectionError) as info:
        for attempt in Retry(None, wait=Fixed(0), deadline=1.0, sleep=clock.sleep, clock=clock):
            with attempt:
                cut_to(attempt.remaining)
    assert flaky.calls == 2 and clock.now == 1.0
    assert "no time left" in info.value.__notes__[0]
