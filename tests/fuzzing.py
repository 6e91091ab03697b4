"""Bad-input fuzzing of the public functions of ``helpers``, every call under a time and a memory
limit in a forked child process.

A module's fuzz test lists one valid call per public function (:class:`Call`). :func:`fuzz`
first runs each valid call (its result must be finite), then substitutes, one argument at a time,
every value of :data:`BAD_VALUES` for that argument (the arguments the call passes and the
keyword arguments it leaves at their defaults). Each substituted call must either

* raise ``ValueError`` or ``TypeError`` whose message names the substituted argument, or
* return a finite result (the value was acceptable after all: 0 for a scale, a tensor for an
  array),

and, either way, finish within ``seconds`` and the memory limit, and leave every input unchanged.
Anything else (another exception, NaN or inf in the result, a hang, a memory blow-up, a mutated
input) is reported as a defect naming the function, argument and value.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
import math
import os
import resource
import select
import signal
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

MEMORY_HEADROOM = 3 * 1024**3  # on top of what the process already maps; > helpers' 2 GiB budget


def _bad_values() -> dict[str, Callable[[], Any]]:
    """Name -> factory (fresh objects per call, so a mutation cannot leak between calls)."""
    values: dict[str, Callable[[], Any]] = {
        "None": lambda: None,
        "a string": lambda: "abc",
        "nan": lambda: math.nan,
        "inf": lambda: math.inf,
        "-inf": lambda: -math.inf,
        "-1": lambda: -1,
        "0": lambda: 0,
        "a huge int (10**12)": lambda: 10**12,
        "1e300": lambda: 1e300,
        "True": lambda: True,
        "2.5": lambda: 2.5,
        "a complex number": lambda: 1 + 2j,
        "an empty array": lambda: np.array([]),
        "an array with NaN": lambda: np.array([np.nan, 1.0, 2.0]),
        "an array with inf": lambda: np.array([np.inf, 1.0, 2.0]),
        "a complex array": lambda: np.array([1 + 1j, 2.0, 3.0]),
        "an object array": lambda: np.array([object(), object()], dtype=object),
        "a 3-d array": lambda: np.ones((2, 2, 2)),
    }
    try:
        import torch
    except ImportError:
        return values
    values.update({
        "an empty tensor": lambda: torch.zeros(2, 0),
        "a tensor that requires grad": lambda: torch.ones(3, requires_grad=True),
        "a bfloat16 tensor": lambda: torch.ones(3, dtype=torch.bfloat16),
        "a complex tensor": lambda: torch.ones(3, dtype=torch.complex64),
    })
    return values


BAD_VALUES = _bad_values()


@dataclasses.dataclass
class Call:
    """One valid call: ``fn(*args, **kwargs)``. ``allow_inf``: the result may hold infinities.
    ``skip``: argument names not to fuzz (say why in a comment where the call is listed)."""

    fn: Callable[..., Any]
    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)
    allow_inf: bool = False
    skip: tuple[str, ...] = ()

    def __init__(self, fn, *args, allow_inf=False, skip=(), **kwargs):
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.allow_inf, self.skip = allow_inf, tuple(skip)


def _names(call: Call) -> tuple[list[str], list[str]]:
    """Positional parameter names of the passed args, and the fuzzable keyword names."""
    sig = inspect.signature(call.fn)
    params = [p for p in sig.parameters.values() if p.name != "self"]
    positional = [p.name for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][: len(call.args)]
    keywords = [p.name for p in params
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                and p.name not in positional]
    return positional, keywords


def cases(call: Call) -> Iterator[tuple[str, str, tuple, dict]]:
    """(argument, bad value name, args, kwargs) for every substitution."""
    positional, keywords = _names(call)
    for i, name in enumerate(positional):
        if name in call.skip:
            continue
        for label, make in BAD_VALUES.items():
            args = list(call.args)
            args[i] = make()
            yield name, label, tuple(args), dict(call.kwargs)
    for name in keywords:
        if name in call.skip:
            continue
        for label, make in BAD_VALUES.items():
            yield name, label, tuple(call.args), {**call.kwargs, name: make()}


def _finite(x: Any, allow_inf: bool, depth: int = 0) -> bool:
    if depth > 6 or x is None or isinstance(x, (str, bytes, bool, type)):
        return True
    if hasattr(x, "detach") and hasattr(x, "isfinite"):
        x = x.detach().cpu()
        if x.is_complex() or not x.is_floating_point():
            return True
        return bool((~x.isnan()).all()) if allow_inf else bool(x.isfinite().all())
    if isinstance(x, (int, float, np.number, np.ndarray)):
        arr = np.asarray(x)
        if not np.issubdtype(arr.dtype, np.inexact):
            return True
        return not np.isnan(arr).any() if allow_inf else bool(np.isfinite(arr).all())
    if isinstance(x, dict):
        return all(_finite(v, allow_inf, depth + 1) for v in x.values())
    if isinstance(x, (list, tuple)):
        return all(_finite(v, allow_inf, depth + 1) for v in x)
    if dataclasses.is_dataclass(x):
        return all(_finite(getattr(x, f.name), allow_inf, depth + 1)
                   for f in dataclasses.fields(x))
    return True


def _same(a: Any, b: Any) -> bool:
    if hasattr(a, "detach") and hasattr(b, "detach"):
        return a.shape == b.shape and bool((a.detach() == b.detach()).all() |
                                           (a.detach().isnan() & b.detach().isnan()).all())
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.shape == b.shape and (a.dtype == object or np.array_equal(a, b, equal_nan=True))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return True  # other objects: not compared


def _judge(call: Call, arg: str | None, args: tuple, kwargs: dict) -> str:
    """'' if the call behaved, else a one-line description of the defect."""
    before = copy.deepcopy((args, kwargs))
    try:
        result = call.fn(*args, **kwargs)
    except (ValueError, TypeError) as err:
        if arg is None:
            return f"the valid call raised {type(err).__name__}: {err}"
        if arg not in str(err):
            return f"{type(err).__name__} does not name '{arg}': {err}"
        result = None
    except Exception as err:  # noqa: BLE001 - any other exception is the defect reported
        return f"raised {type(err).__name__}: {str(err)[:200]}"
    if not _finite(result, call.allow_inf):
        return "returned NaN or inf"
    if not _same(before, (args, kwargs)):
        return "mutated an input"
    return ""


def _child(call: Call, jobs: list, start: int, fd: int, seconds: float) -> None:
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + MEMORY_HEADROOM, resource.RLIM_INFINITY))
    with os.fdopen(fd, "w") as out:
        for i in range(start, len(jobs)):
            arg, label, args, kwargs = jobs[i]
            out.write(json.dumps([i, None]) + "\n")
            out.flush()
            signal.alarm(int(math.ceil(seconds)))  # interrupts Python-level loops
            try:
                verdict = _judge(call, arg, args, kwargs)
            except BaseException as err:  # noqa: BLE001 - the alarm, MemoryError, ...
                verdict = f"did not finish: {type(err).__name__}"
            signal.alarm(0)
            out.write(json.dumps([i, verdict]) + "\n")
            out.flush()


def _alarm(signum, frame):
    raise TimeoutError("time limit")


def fuzz(calls: dict[str, Call], seconds: float = 10.0) -> tuple[int, list[str]]:
    """Run every valid call and every substitution; return (number of calls, defects)."""
    defects: list[str] = []
    total = 0
    for fname, call in calls.items():
        jobs = [(None, "valid call", call.args, dict(call.kwargs))] + list(cases(call))
        total += len(jobs)

        def where(i: int) -> str:
            arg, label = jobs[i][:2]
            return f"{fname}({arg}={label})" if arg else f"{fname} (valid call)"

        start = 0
        while start < len(jobs):
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: run jobs[start:], report each, never return
                try:
                    os.close(read_fd)
                    signal.signal(signal.SIGALRM, _alarm)
                    _child(call, jobs, start, write_fd, seconds)
                finally:
                    os._exit(0)
            os.close(write_fd)
            current, running = start, False
            with os.fdopen(read_fd) as stream:
                while current < len(jobs):
                    ready, _, _ = select.select([stream], [], [], seconds + 5)
                    if not ready:  # a hang the alarm could not interrupt (inside C code)
                        os.kill(pid, signal.SIGKILL)
                        defects.append(f"{where(current)}: did not finish in {seconds} s")
                        running = False
                        break
                    line = stream.readline()
                    if not line:  # the child died: killed for memory, or crashed
                        break
                    i, verdict = json.loads(line)
                    if verdict is None:
                        current, running = i, True
                    else:
                        if verdict:
                            defects.append(f"{where(i)}: {verdict}")
                        current, running = i + 1, False
            _, status = os.waitpid(pid, 0)
            if running:
                sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
                defects.append(f"{where(current)}: the process died (signal {sig}; memory?)")
            start = current + 1 if current < len(jobs) else len(jobs)
    return total, defects
