"""The one validation layer of ``helpers``: every public function checks its arguments here.

Rules, the same in every module:

* Errors name the argument: ``ValueError("alpha: expected a finite number >= 0, got nan")``.
  TypeError for the wrong kind of thing (a string, None, complex numbers, an object array),
  ValueError for the right kind with a wrong value (NaN, a negative size, a bad shape).
* Real floating point only: complex input is rejected, never cut to its real part; booleans are
  not numbers. NaN is never accepted; infinities only where a function says they mean something
  (``allow_inf=True``).
* Sizes go through ``operator.index`` (3 is a size, 3.0 and True are not) and have a ceiling.
* Memory is checked *before* allocating (:func:`check_memory`): a clear ValueError naming the
  argument and the memory the call would need, instead of a hang or an out-of-memory kill.
* Torch tensors: numpy-side functions take them, ``.detach()``-ed and copied to the CPU
  (:func:`real_array`); torch-side functions check them with :func:`real_tensor`, which keeps
  the tensor, its device and its autograd graph. Each module says which rule it follows.
* Nothing is mutated: :func:`real_array` returns a new array whenever it converts.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "MEMORY_LIMIT_BYTES",
    "real_array",
    "real_scalar",
    "size",
    "choice",
    "check_memory",
    "real_tensor",
    "is_tensor",
]

MEMORY_LIMIT_BYTES = 2 * 1024**3
"""The most memory one call may ask for (2 GiB); larger requests fail before allocating."""


def is_tensor(x: Any) -> bool:
    """True for a torch tensor (without importing torch)."""
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def _describe(x: Any) -> str:
    return type(x).__name__ if not isinstance(x, np.ndarray) else f"array of dtype {x.dtype}"


def real_array(
    x: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    min_ndim: int = 0,
    allow_empty: bool = True,
    allow_inf: bool = False,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> np.ndarray:
    """``x`` as a new float64 array, checked: real, no NaN (no inf unless ``allow_inf``), the
    given number of dimensions, inside [low, high] (open ends with ``low_open``/``high_open``).

    Torch tensors are detached and copied to the CPU. Raises TypeError (not real numbers) or
    ValueError (NaN/inf, shape, range), naming ``name``.
    """
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"{name}: expected real numbers, got {_describe(x)}")
    if is_tensor(x):
        if x.is_complex():
            raise TypeError(f"{name}: expected real numbers, got a complex tensor")
        x = x.detach().cpu().double().numpy()
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:  # ragged nested lists and the like
        raise TypeError(f"{name}: expected real numbers, got {_describe(x)} ({err})") from None
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        kind = "complex numbers" if np.iscomplexobj(arr) else _describe(arr)
        raise TypeError(f"{name}: expected real numbers, got {kind}")
    arr = np.array(arr, dtype=np.float64)  # always a copy: callers may write into it
    if arr.ndim < min_ndim:
        raise ValueError(f"{name}: expected at least {min_ndim} dimension(s), got shape {arr.shape}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name}: expected {want} dimension(s), got shape {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name}: expected numbers, found NaN")
    if not allow_inf and np.isinf(arr).any():
        raise ValueError(f"{name}: expected finite numbers, found inf")
    _check_range(arr, name, low, high, low_open, high_open)
    return arr


def _check_range(arr, name, low, high, low_open, high_open) -> None:
    if arr.size == 0:
        return
    if low is not None:
        bad = arr <= low if low_open else arr < low
        if bad.any():
            first = arr[bad].flat[0]
            raise ValueError(f"{name}: expected values {'>' if low_open else '>='} {low:g}, "
                             f"got {first:g}")
    if high is not None:
        bad = arr >= high if high_open else arr > high
        if bad.any():
            first = arr[bad].flat[0]
            raise ValueError(f"{name}: expected values {'<' if high_open else '<='} {high:g}, "
                             f"got {first:g}")


def real_scalar(
    x: Any,
    name: str,
    *,
    allow_inf: bool = False,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``x`` as a Python float, checked like :func:`real_array` (a 0-d tensor or array is fine)."""
    if isinstance(x, bool) or x is None or isinstance(x, (str, bytes, complex)):
        raise TypeError(f"{name}: expected a real number, got {_describe(x)}")
    if is_tensor(x) or isinstance(x, np.ndarray):
        arr = real_array(x, name, allow_inf=True)
        if arr.ndim != 0 and arr.size != 1:
            raise ValueError(f"{name}: expected a single number, got shape {arr.shape}")
        value = float(arr.reshape(()))
    elif isinstance(x, numbers.Real):
        if isinstance(x, np.bool_):
            raise TypeError(f"{name}: expected a real number, got {_describe(x)}")
        try:
            value = float(x)
        except OverflowError:  # an int beyond float range
            raise ValueError(f"{name}: {x} is too large for a float") from None
    else:
        raise TypeError(f"{name}: expected a real number, got {_describe(x)}")
    if math.isnan(value):
        raise ValueError(f"{name}: expected a number, got nan")
    if not allow_inf and math.isinf(value):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    _check_range(np.asarray(value), name, low, high, low_open, high_open)
    return value


def size(n: Any, name: str, *, low: int = 1, high: int | None = None) -> int:
    """``n`` as an int via ``operator.index`` (3 and numpy ints, not 3.0 or True), low <= n <= high."""
    if isinstance(n, (bool, np.bool_)):
        raise TypeError(f"{name}: expected an integer, got {_describe(n)}")
    try:
        value = operator.index(n)
    except TypeError:
        raise TypeError(f"{name}: expected an integer, got {_describe(n)}") from None
    if value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name}: expected an integer <= {high}, got {value}")
    return value


def choice(value: Any, name: str, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices``, else ValueError listing them."""
    options = tuple(choices)
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected one of {options}, got {_describe(value)}")
    if value not in options:
        raise ValueError(f"{name}: expected one of {options}, got {value!r}")
    return value


def check_memory(nbytes: float, name: str, *, limit: int | None = None) -> None:
    """ValueError naming ``name`` if an allocation of ``nbytes`` would exceed ``limit``
    (default :data:`MEMORY_LIMIT_BYTES`). Call it before allocating."""
    limit = MEMORY_LIMIT_BYTES if limit is None else limit
    if not nbytes <= limit:
        raise ValueError(
            f"{name}: this call would need {nbytes / 1024**3:.3g} GiB, more than the "
            f"{limit / 1024**3:.3g} GiB limit; use a smaller {name}"
        )


def real_tensor(
    x: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    allow_empty: bool = True,
    check_finite: bool = True,
):
    """``x`` if it is a real floating-point torch tensor (any device; autograd kept), checked for
    dimensions and, unless ``check_finite=False``, for NaN/inf."""
    if not is_tensor(x):
        raise TypeError(f"{name}: expected a torch tensor, got {_describe(x)}")
    if x.is_complex() or not x.is_floating_point():
        raise TypeError(f"{name}: expected a real floating-point tensor, got dtype {x.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.dim() not in allowed:
            want = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name}: expected {want} dimension(s), got shape {tuple(x.shape)}")
    if not allow_empty and x.numel() == 0:
        raise ValueError(f"{name}: expected a non-empty tensor, got shape {tuple(x.shape)}")
    if check_finite and x.numel() and not bool(x.detach().isfinite().all()):
        raise ValueError(f"{name}: expected finite values, found NaN or inf")
    return x
