"""Bad-input fuzzing of helpers/retry.py (notebook 06) with the shared harness tests/fuzzing.py.

One valid, tiny call per public function, class and method; every argument is then replaced by
each bad value of the harness, and each call must raise a ValueError/TypeError naming the
argument or return a finite result, within the time and memory limits, mutating nothing.
"""

import asyncio
import random

import numpy as np

from helpers import retry as R
from tests.fuzzing import Call, fuzz

# Names in __all__ that are not callables to fuzz: constants and a typing Protocol.
NOT_CALLABLE = {"JITTERS", "NEVER_RETRIED", "Wait"}


def _exp():
    return R.Exponential(1.0, 2.0, 64.0)


def run_loop(attempts=3, deadline=10.0):
    """The block form on a fake clock: one failure, then success (or, with a deadline too short
    for a retry, the failure itself)."""
    clock = R.FakeClock()
    flaky = R.Flaky.failing(1)
    try:
        for attempt in R.Retry(attempts, wait=R.Fixed(0.5), deadline=deadline,
                               sleep=clock.sleep, clock=clock):
            with attempt:
                flaky()
    except ConnectionError as err:
        assert err is flaky.raised[-1]
    return flaky.calls


def run_async_loop(attempts=3, deadline=10.0):
    clock = R.FakeClock()
    flaky = R.Flaky.failing(1)

    async def main():
        try:
            async for attempt in R.Retry(attempts, wait=R.Fixed(0.5), deadline=deadline,
                                         sleep=clock.asleep, clock=clock):
                with attempt:
                    flaky()
        except ConnectionError as err:
            assert err is flaky.raised[-1]
        return flaky.calls

    return asyncio.run(main())


def _herd():
    return R.simulate_herd(20, 2, jitter="full", rng=np.random.default_rng(0), outage=2,
                           horizon=200)


CALLS = {
    "Fixed": Call(R.Fixed, 1.0),
    "Fixed.__call__": Call(lambda n, previous=0.0: R.Fixed(1.0)(n, previous), 2),
    # an Exponential may hold cap=inf (no cap) by design
    "Exponential": Call(R.Exponential, 1.0, 2.0, 64.0, allow_inf=True),
    "Exponential.__call__": Call(lambda n, previous=0.0: _exp()(n, previous), 3),
    "FullJitter": Call(R.FullJitter, _exp(), random.Random(0)),
    "FullJitter.__call__": Call(
        lambda n, previous=0.0: R.FullJitter(_exp(), random.Random(0))(n, previous), 3),
    "EqualJitter": Call(R.EqualJitter, _exp(), np.random.default_rng(0)),
    "EqualJitter.__call__": Call(
        lambda n, previous=0.0: R.EqualJitter(_exp(), np.random.default_rng(0))(n, previous), 3),
    # cap=inf (no cap) is allowed
    "DecorrelatedJitter": Call(R.DecorrelatedJitter, 1.0, 64.0, random.Random(0),
                               allow_inf=True),
    "DecorrelatedJitter.__call__": Call(
        lambda n, previous=0.0: R.DecorrelatedJitter(1.0, 64.0, random.Random(0))(n, previous),
        2, 1.5),
    "RetryBudget": Call(R.RetryBudget, 10.0, 0.1),
    "RetryBudget.withdraw": Call(lambda k=1: R.RetryBudget(5.0, 0.1).withdraw(k), 2),
    "RetryBudget.deposit": Call(lambda successes=1: R.RetryBudget(5.0, 0.1).deposit(successes),
                                3),
    "RetryEvent": Call(R.RetryEvent, 1, ValueError("x"), 1.0, 0.5),
    "Attempt": Call(R.Attempt, 1, (ConnectionError,)),
    "Retry": Call(R.Retry, 3, wait=R.Fixed(0.0)),
    "Retry.__iter__": Call(run_loop, 3, 10.0),
    "Retry.__aiter__": Call(run_async_loop, 3, 10.0),
    "Retry.__call__": Call(lambda fn: R.Retry(2, sleep=R.FakeClock().sleep)(fn), len),
    "Retry.call": Call(lambda fn: R.Retry(2, sleep=R.FakeClock().sleep).call(fn),
                       R.Flaky.failing(1)),
    "FakeClock": Call(R.FakeClock, 0.0),
    "FakeClock.sleep": Call(lambda seconds: R.FakeClock().sleep(seconds), 1.0),
    "FakeClock.asleep": Call(lambda seconds: asyncio.run(R.FakeClock().asleep(seconds)), 1.0),
    "FakeClock.advance": Call(lambda seconds: R.FakeClock().advance(seconds), 1.0),
    "FakeClock.clock": Call(lambda: R.FakeClock(2.0).clock()),
    "FakeClock.reset": Call(lambda: R.FakeClock(2.0).reset()),
    "Flaky": Call(R.Flaky, [ValueError("x"), None], 42, 0.0, None),
    "Flaky.failing": Call(R.Flaky.failing, 2),
    "Flaky.__call__": Call(lambda: R.Flaky([None])()),
    "exponential_delays": Call(R.exponential_delays, 5, 1.0, 2.0, 64.0),
    "jittered_delays": Call(R.jittered_delays, np.array([1.0, 2.0]), "full",
                            np.random.default_rng(0)),
    # a result record that simulate_herd builds: its fields are outputs, not inputs
    "HerdResult": Call(R.HerdResult, np.zeros(3), np.zeros(3), np.ones(2), np.ones(2),
                       skip=("arrivals", "served", "done_at", "calls", "params", "refused")),
    "HerdResult.time_to_serve": Call(lambda q=1.0: _herd().time_to_serve(q), 0.5),
    # done_at is inf for a client that was never served (e.g. when outage covers the horizon)
    "simulate_herd": Call(R.simulate_herd, 20, 2, jitter="full", rng=np.random.default_rng(0),
                          outage=2, horizon=200, allow_inf=True),
}


def test_calls_cover_all():
    covered = {name.split(".")[0] for name in CALLS}
    assert covered == set(R.__all__) - NOT_CALLABLE
    assert NOT_CALLABLE <= set(R.__all__)


def test_fuzz_retry():
    total, defects = fuzz(CALLS)
    print(f"fuzz: {total} calls over {len(CALLS)} functions and methods")
    assert not defects, "\n".join(defects)
