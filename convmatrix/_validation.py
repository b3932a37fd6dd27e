"""One validation vocabulary: every public callable checks its arguments here, at its boundary, once.

The rules, the same everywhere in the package:

* a wrong *type* is an :class:`InputTypeError` (a ``TypeError``), a wrong *value*
  an :class:`InputValueError` (a ``ValueError``); both are :class:`InputError`,
  which is how the command line tells a user's mistake from a bug;
* the message starts with the parameter as the user spelled it and its value
  (``stride=(1, 0)``), then says the rule; the error keeps the name in
  :attr:`InputError.parameter`;
* numpy scalars and 0-d arrays are accepted wherever Python numbers are;
  ``bool`` is never an integer; a flag is ``True``/``False`` (or numpy's bools);
* a choice is checked to be a ``str`` before it is compared;
* NaN and infinities are refused where a real number is expected;
* integers are at most ``2**63 - 1`` (what int64 index arithmetic holds);
* an object array holds numbers or SymPy expressions, never booleans,
  relations or sets.

This is layer 1: pure Python, numpy only where an array is asked for, SymPy
only when an object array is met (and then only if SymPy is already loaded).
"""

from __future__ import annotations

import math
import numbers
import operator
import reprlib
import sys
from collections.abc import Mapping, Set
from typing import Any, Iterable, Sequence

__all__ = [
    "INT64_MAX",
    "InputError",
    "InputTypeError",
    "InputValueError",
    "show",
    "describe",
    "type_error",
    "object_type_error",
    "value_error",
    "is_bool",
    "is_integer",
    "is_sequence",
    "as_int",
    "as_bool",
    "as_real",
    "as_choice",
    "as_str",
    "as_callable",
    "as_instance",
    "as_sequence",
    "as_sizes",
    "as_shape",
    "ndim_of",
    "detached",
    "as_array",
    "as_numbers",
    "as_matrix",
    "as_float_dtype",
    "as_any_matrix",
    "as_sample_shape",
    "as_index",
    "as_real_array",
    "as_channel_values",
    "as_mapping",
    "as_names",
    "as_expression",
    "loaded_sympy",
    "is_sympy_matrix",
]

#: The largest integer any size, width, stride or count may be (int64's largest).
INT64_MAX = 2**63 - 1


class InputError(Exception):
    """Bad input, refused before any work: the message names the parameter, the value and the rule.

    Raised as :class:`InputTypeError` or :class:`InputValueError`, so that
    ``except TypeError`` and ``except ValueError`` catch it as usual.

    Attributes
    ----------
    parameter : str or None
        The parameter refused, as the user spelled it (``"stride"``, ``"l"``).

    Examples
    --------
    >>> import numpy as np, convmatrix as cm
    >>> try:
    ...     cm.conv_matrix(np.ones((1, 1, 3)), 5, stride="2")
    ... except TypeError as exc:
    ...     print(exc, "|", exc.parameter)
    stride='2' must be an integer, not a str | stride
    """

    def __init__(self, message: str, parameter: str | None = None):
        super().__init__(message)
        self.parameter = parameter


class InputTypeError(InputError, TypeError):
    """A parameter of the wrong type (a ``TypeError``)."""


class InputValueError(InputError, ValueError):
    """A parameter of the right type but a wrong value (a ``ValueError``)."""


# users meet them as convmatrix.InputError & co. (tracebacks and doctests print this name)
for _cls in (InputError, InputTypeError, InputValueError):
    _cls.__module__ = "convmatrix"


# --------------------------------------------------------------------------- messages
_SHOW = reprlib.Repr()
_SHOW.maxstring = 60
_SHOW.maxother = 60
_SHOW.maxlist = _SHOW.maxtuple = 8


def _plain(value: Any) -> Any:
    """numpy scalars, 0-d arrays and nested tuples/lists of them as Python numbers (for messages)."""
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    if is_integer(value):
        return operator.index(value)
    return value


def show(value: Any) -> str:
    """A short ``repr`` of ``value`` for a message: numpy integers as ints, long values cut, arrays by shape.

    Examples
    --------
    >>> import numpy as np
    >>> show((np.int64(1), [2, 3])), show("x" * 100)[:12], show(np.zeros((2, 3)))
    ('(1, (2, 3))', "'xxxxxxxxxxx", '<ndarray of shape (2, 3)>')
    """
    shape = _shape_of(value)
    if shape is not None and getattr(value, "ndim", 0) != 0 and not isinstance(value, (str, bytes)):
        return f"<{type(value).__name__} of shape {tuple(shape)}>"
    try:
        return _SHOW.repr(_plain(value))
    except Exception:  # noqa: BLE001 - a value whose repr fails still gets a message
        return f"<{type(value).__name__}>"


def _shape_of(value: Any):
    """``value.shape`` of an array-like, ``None`` for classes and for objects whose ``shape`` raises."""
    if isinstance(value, type):
        return None
    try:
        return getattr(value, "shape", None)
    except Exception:  # noqa: BLE001 - SymPy's Indexed raises when it has no range
        return None


def describe(value: Any) -> str:
    """What a value is, for a message about an array or object parameter: ``a list``, ``an ndarray of shape (2, 3)``.

    Examples
    --------
    >>> describe([1, 2]), describe("R"), describe(5)
    ('a list', "the str 'R'", 'the int 5')
    """
    t = type(value).__name__
    article = "an" if t[:1].lower() in "aeiou" else "a"
    shape = _shape_of(value)
    if shape is not None and getattr(value, "ndim", 0) != 0 and not isinstance(value, (str, bytes)):
        return f"{article} {t} of shape {tuple(shape)}"
    if value is None or isinstance(value, (str, bytes, bool, int, float, complex)) or is_integer(value):
        return f"the {t} {show(value)}"
    return f"{article} {t}"


def type_error(name: str, value: Any, rule: str) -> InputTypeError:
    """``InputTypeError("name=value rule, not a T")`` for a scalar parameter, to raise.

    Examples
    --------
    >>> str(type_error("groups", 1.5, "must be an integer"))
    'groups=1.5 must be an integer, not a float'
    """
    return InputTypeError(f"{name}={show(value)} {rule}, not a {type(value).__name__}", name)


def object_type_error(name: str, value: Any, rule: str) -> InputTypeError:
    """``InputTypeError("name rule, not <what value is>")`` for an array or object parameter, to raise.

    Examples
    --------
    >>> str(object_type_error("R", [[1, 2]], "must be a 2-d scipy.sparse array or numpy ndarray"))
    'R must be a 2-d scipy.sparse array or numpy ndarray, not a list'
    """
    return InputTypeError(f"{name} {rule}, not {describe(value)}", name)


def value_error(name: str, value: Any, rule: str) -> InputValueError:
    """``InputValueError("name=value rule")``, to raise.

    Examples
    --------
    >>> str(value_error("groups", 0, "must be positive"))
    'groups=0 must be positive'
    """
    return InputValueError(f"{name}={show(value)} {rule}", name)


# --------------------------------------------------------------------------- predicates
def is_bool(value: Any) -> bool:
    """``True``/``False`` or one of numpy's bools (also a 0-d bool array).

    Examples
    --------
    >>> import numpy as np
    >>> is_bool(True), is_bool(np.True_), is_bool(1)
    (True, True, False)
    """
    t = type(value)
    if t is bool:
        return True
    if t is int or t is tuple or t is list or t is str:  # the common answers first, without the checks below
        return False
    if isinstance(value, bool):
        return True
    if t.__module__ == "numpy" and t.__name__ in ("bool", "bool_"):
        return True
    return getattr(value, "ndim", None) == 0 and str(getattr(value, "dtype", "")) in ("bool", "torch.bool")


def is_integer(value: Any) -> bool:
    """An integer that is not a bool: ``int``, numpy integers, 0-d integer arrays and tensors.

    Examples
    --------
    >>> import numpy as np
    >>> is_integer(3), is_integer(np.int8(3)), is_integer(np.array(3)), is_integer(True), is_integer(3.0)
    (True, True, True, False, False)
    """
    if type(value) is int:  # the common answer first
        return True
    if is_bool(value) or isinstance(value, (float, complex, str, bytes)):
        return False
    if isinstance(value, numbers.Integral):
        return True
    if getattr(value, "ndim", None) == 0 or type(value).__module__.startswith("sympy"):
        try:
            operator.index(value)
        except TypeError:
            return False
        return True
    return False


def is_sequence(value: Any) -> bool:
    """One entry per axis: a list, tuple, 1-d array or tensor (not a string, mapping, set or 0-d array).

    Examples
    --------
    >>> import numpy as np
    >>> is_sequence((1, 2)), is_sequence(np.array([1, 2])), is_sequence(np.array(5)), is_sequence("12")
    (True, True, False, False)
    """
    t = type(value)
    if t is tuple or t is list:  # the common answers first
        return True
    if t is int or t is str:
        return False
    if isinstance(value, (str, bytes, Mapping, Set)):
        return False
    if getattr(value, "ndim", None) == 0:
        return False
    return isinstance(value, Sequence) or (hasattr(value, "__len__") and hasattr(value, "__getitem__"))


# --------------------------------------------------------------------------- scalars
def as_int(value: Any, name: str, *, minimum: int | None = None, maximum: int = INT64_MAX) -> int:
    """``value`` as a Python int in ``[minimum, maximum]``; bools, floats and strings refused.

    Examples
    --------
    >>> import numpy as np
    >>> as_int(np.int64(3), "groups", minimum=1)
    3
    >>> as_int(0, "groups", minimum=1)
    Traceback (most recent call last):
        ...
    convmatrix.InputValueError: groups=0 must be positive
    >>> as_int(2**63, "stride")
    Traceback (most recent call last):
        ...
    convmatrix.InputValueError: stride=9223372036854775808 must be at most 2**63 - 1 (int64)
    """
    if type(value) is int and (minimum is None or value >= minimum) and value <= maximum:
        return value  # the common case, without the checks below
    if not is_integer(value):
        raise type_error(name, value, "must be an integer")
    v = operator.index(value)
    if minimum is not None and v < minimum:
        raise value_error(name, v, _minimum_rule(minimum))
    if v > maximum:
        bound = "2**63 - 1 (int64)" if maximum == INT64_MAX else str(maximum)
        raise value_error(name, v, f"must be at most {bound}")
    return v


def _minimum_rule(minimum: int) -> str:
    return {0: "must be non-negative", 1: "must be positive"}.get(minimum, f"must be at least {minimum}")


def as_bool(value: Any, name: str) -> bool:
    """``value`` as a bool: ``True``/``False`` or numpy's bools; no 0/1, no strings.

    Examples
    --------
    >>> as_bool("no", "flip")
    Traceback (most recent call last):
        ...
    convmatrix.InputTypeError: flip='no' must be True or False, not a str
    """
    if is_bool(value):
        return bool(value)
    raise type_error(name, value, "must be True or False")


def as_real(value: Any, name: str, *, minimum: float | None = 0.0, positive: bool = False,
            maximum: float | None = None) -> float:
    """A finite real number as a float; non-negative by default (``minimum=None``: any sign).

    Examples
    --------
    >>> as_real(float("nan"), "eps")
    Traceback (most recent call last):
        ...
    convmatrix.InputValueError: eps=nan must be a finite non-negative number
    >>> as_real(-1, "lr", minimum=None)
    -1.0
    """
    if is_bool(value) or isinstance(value, (str, bytes, complex)):
        raise type_error(name, value, "must be a real number")
    if not isinstance(value, numbers.Real):
        if getattr(value, "ndim", None) == 0 and getattr(getattr(value, "dtype", None), "kind", "") in "iuf":
            value = value.item()
        else:
            raise type_error(name, value, "must be a real number")
    v = float(value)
    kind = "positive " if positive else ("non-negative " if minimum == 0 else "")
    if not math.isfinite(v) or (positive and v <= 0) or (minimum == 0 and v < 0):
        raise value_error(name, value, f"must be a finite {kind}number")
    if minimum is not None and v < minimum:
        raise value_error(name, value, f"must be at least {minimum}")
    if maximum is not None and v > maximum:
        raise value_error(name, value, f"must be at most {maximum}")
    return v


def as_choice(value: Any, name: str, choices: Iterable[str], *, hint: str = "") -> str:
    """One of ``choices`` (strings); a non-string is a type error, checked before comparing.

    Examples
    --------
    >>> as_choice("zero", "padding_mode", ("zeros", "reflect"))
    Traceback (most recent call last):
        ...
    convmatrix.InputValueError: padding_mode='zero' is not one of 'zeros', 'reflect'
    """
    choices = tuple(choices)
    if not isinstance(value, str):
        raise type_error(name, value, f"must be one of {', '.join(map(repr, choices))}")
    if value not in choices:
        raise InputValueError(f"{name}={show(value)} is not one of {', '.join(map(repr, choices))}{hint}", name)
    return value


def as_str(value: Any, name: str, *, rule: str = "must be a non-empty string") -> str:
    """A non-empty ``str``."""
    if not isinstance(value, str):
        raise type_error(name, value, rule)
    if not value:
        raise value_error(name, value, rule)
    return value


def as_callable(value: Any, name: str, what: str = "a callable", *, arguments: int | None = None) -> Any:
    """A callable, or ``None``; with ``arguments``, one that can be called with that many positional arguments."""
    if value is None:
        return None
    if not callable(value):
        raise object_type_error(name, value, f"must be {what} or None")
    if arguments is not None:
        import inspect

        try:
            inspect.signature(value).bind(*range(arguments))
        except TypeError:
            raise InputTypeError(f"{name}={show(value)} must be {what}: it cannot take {arguments} positional "
                                 f"argument{'s' if arguments != 1 else ''}", name) from None
        except ValueError:  # no signature to read (some builtins): trust it
            pass
    return value


def as_instance(value: Any, name: str, types: type | tuple, what: str, *, optional: bool = False) -> Any:
    """``value`` if it is an instance of ``types`` (or ``None`` when ``optional``)."""
    if value is None and optional:
        return None
    if not isinstance(value, types):
        raise object_type_error(name, value, f"must be {what}" + (" or None" if optional else ""))
    return value


def as_sequence(value: Any, name: str, what: str) -> tuple:
    """``value`` as a tuple; strings, mappings, sets and scalars refused."""
    if not is_sequence(value):
        raise object_type_error(name, value, f"must be a sequence of {what}")
    return tuple(value)


# --------------------------------------------------------------------------- sizes
def ndim_of(*values: Any) -> int | None:
    """The length of the first sequence among ``values`` (``None`` if every one is a scalar).

    A string is not a sequence here (``"same"`` says nothing about the axes).

    Examples
    --------
    >>> ndim_of(5, (3, 3), 1)
    2
    """
    for v in values:
        if is_sequence(v):
            return len(v)
    return None


def as_sizes(value: Any, ndim: int, name: str, *, minimum: int = 1, axes_from: str | None = None) -> tuple[int, ...]:
    """One integer for every axis, or one per axis, each at least ``minimum``.

    ``axes_from`` names what fixed the number of axes, for the message.

    Examples
    --------
    >>> as_sizes(2, 3, "stride")
    (2, 2, 2)
    >>> as_sizes((1, 0), 2, "stride")
    Traceback (most recent call last):
        ...
    convmatrix.InputValueError: stride=(1, 0) must be positive along every axis: got 0 along axis 1
    """
    if (type(value) is tuple and len(value) == ndim and all(type(v) is int for v in value)
            and min(value, default=minimum) >= minimum and max(value, default=0) <= INT64_MAX):
        return value  # already one Python int per axis, in range: the common case, without the checks below
    if is_sequence(value):
        entries = tuple(value)
        if len(entries) != ndim:
            source = f" (as {axes_from})" if axes_from else ""
            raise InputValueError(
                f"{name}={show(value)} must have one entry per spatial axis: expected {ndim}{source}, got {len(entries)}",
                name)
        out = []
        for v in entries:
            if not is_integer(v):
                raise InputTypeError(
                    f"{name}={show(value)} must hold integers: got {show(v)} of type {type(v).__name__}", name)
            out.append(operator.index(v))
    else:
        if not is_integer(value):
            raise type_error(name, value, "must be an integer" + ("" if ndim == 1 else f" or a tuple of {ndim} integers"))
        out = [operator.index(value)] * ndim
    for axis, v in enumerate(out):
        if v < minimum:
            rule = {0: "non-negative", 1: "positive"}.get(minimum, f"at least {minimum}")
            raise InputValueError(f"{name}={show(value)} must be {rule} along every axis: got {v} along axis {axis}",
                                  name)
        if v > INT64_MAX:
            raise InputValueError(f"{name}={show(value)} must be at most 2**63 - 1 (int64) along every axis", name)
    return tuple(out)


def as_shape(value: Any, name: str, *, min_len: int = 1, what: str = "positive integers") -> tuple[int, ...]:
    """A shape: a sequence of at least ``min_len`` positive integers.

    Examples
    --------
    >>> as_shape((1, 8, 8), "input_shape", min_len=2)
    (1, 8, 8)
    """
    if not is_sequence(value):
        raise object_type_error(name, value, f"must be a sequence of {what}")
    shape = as_sizes(value, len(value), name)
    if len(shape) < min_len:
        raise value_error(name, shape, f"must have at least {min_len} entries")
    return shape


# --------------------------------------------------------------------------- arrays
def loaded_sympy():
    """The ``sympy`` module if it has been imported, else ``None`` (an object cannot be SymPy's otherwise)."""
    return sys.modules.get("sympy")


def is_sympy_matrix(value: Any) -> bool:
    """Whether ``value`` is a SymPy matrix (without importing SymPy)."""
    sympy = loaded_sympy()
    return sympy is not None and isinstance(value, sympy.MatrixBase)


def detached(value: Any) -> Any:
    """A torch tensor (or ``nn.Parameter``) as its values on the CPU; anything else unchanged.

    Read through ``.detach()`` and ``.cpu()``, without importing torch.
    """
    detach = getattr(value, "detach", None)
    if callable(detach) and callable(getattr(value, "cpu", None)):
        return detach().cpu()
    return value


def _asarray(value: Any, name: str, rule: str):
    import numpy as np

    sympy = loaded_sympy()
    if sympy is not None and isinstance(value, (sympy.NDimArray, sympy.MatrixBase)):
        return np.array(value.tolist(), dtype=object).reshape(value.shape)
    if isinstance(value, (Mapping, Set)) or value is None:
        raise object_type_error(name, value, rule)
    try:
        return np.asarray(detached(value))
    except Exception:  # ragged nesting, unconvertible objects
        raise object_type_error(name, value, f"{rule} (a rectangular array)") from None


def as_array(value: Any, name: str, *, kinds: str = "iuf", rule: str = "must be an array of real numbers",
             ndim: int | None = None, min_ndim: int | None = None, finite: bool = False,
             nonempty: bool = False):
    """``value`` as an ndarray whose dtype kind is in ``kinds`` (``"b"`` bool, ``"iu"`` integers, ``"f"``, ``"c"``).

    Examples
    --------
    >>> as_array([1.0, float("inf")], "x", finite=True)
    Traceback (most recent call last):
        ...
    convmatrix.InputValueError: x must hold finite numbers: it has 1 NaN or infinite entries
    """
    import numpy as np

    arr = _asarray(value, name, rule)
    if arr.dtype.kind not in kinds:
        raise InputTypeError(f"{name} {rule}: got dtype {arr.dtype}", name)
    if ndim is not None and arr.ndim != ndim:
        raise InputValueError(f"{name} must have {ndim} axes: got shape {arr.shape}", name)
    if min_ndim is not None and arr.ndim < min_ndim:
        raise InputValueError(f"{name} must have at least {min_ndim} axes: got shape {arr.shape}", name)
    if nonempty and arr.size == 0:
        raise InputValueError(f"{name} must not be empty: got shape {arr.shape}", name)
    if finite and arr.dtype.kind in "fc":
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        if bad:
            raise InputValueError(f"{name} must hold finite numbers: it has {bad} NaN or infinite entries", name)
    return arr


def as_numbers(value: Any, name: str):
    """``(array, symbolic)``: numbers (integer, float, complex; dtype kept) or SymPy expressions.

    Booleans, float16 (scipy.sparse has no float16), strings, relations (``x > 1``),
    sets and other objects are refused.  Object arrays are sympified entry by entry.

    Examples
    --------
    >>> a, symbolic = as_numbers([[1, 2]], "weight")
    >>> a.dtype.kind, symbolic
    ('i', False)
    >>> as_numbers([True, False], "weight")
    Traceback (most recent call last):
        ...
    convmatrix.InputTypeError: weight must be numeric (integer, float or complex) or symbolic: got dtype bool
    """
    import numpy as np

    arr = _asarray(value, name, "must be an array of numbers or SymPy expressions")
    kind = arr.dtype.kind
    if kind in "iufc":
        if arr.dtype == np.float16:
            raise InputTypeError(f"{name} has dtype float16, which scipy.sparse does not support: use float32", name)
        return arr, False
    if kind != "O":
        raise InputTypeError(f"{name} must be numeric (integer, float or complex) or symbolic: got dtype {arr.dtype}",
                             name)
    sympy = loaded_sympy()
    flat = arr.reshape(-1)
    out = np.empty(flat.size, dtype=object)
    for k, v in enumerate(flat):
        if sympy is not None and isinstance(v, sympy.Basic):
            if not isinstance(v, sympy.Expr) or v.is_Boolean or isinstance(v, sympy.Set):
                raise InputTypeError(f"{name} must hold numbers or SymPy expressions: got {show(v)} of type "
                                     f"{type(v).__name__}", name)
            out[k] = v
        elif isinstance(v, (int, float, complex, np.number)) and not is_bool(v):
            if sympy is None:
                import sympy  # noqa: F811 - an object array of plain numbers: SymPy's own numbers
            out[k] = sympy.sympify(v)
        else:
            raise InputTypeError(f"{name} must hold numbers or SymPy expressions: got {show(v)} of type "
                                 f"{type(v).__name__}", name)
    return out.reshape(arr.shape), True


def as_matrix(value: Any, name: str, *, kinds: str = "biuf", finite: bool = True):
    """A 2-d ``scipy.sparse`` array/matrix or ndarray of real numbers (finite unless ``finite=False``).

    Examples
    --------
    >>> as_matrix([[1, 2]], "R")
    Traceback (most recent call last):
        ...
    convmatrix.InputTypeError: R must be a 2-d scipy.sparse array or numpy ndarray, not a list
    """
    import numpy as np
    import scipy.sparse as sp

    if not (sp.issparse(value) or isinstance(value, np.ndarray)) or value.ndim != 2:
        raise object_type_error(name, value, "must be a 2-d scipy.sparse array or numpy ndarray")
    if value.dtype.kind not in kinds:
        raise InputTypeError(f"{name} must hold real numbers: got dtype {value.dtype}", name)
    data = value.data if sp.issparse(value) else value
    if finite and value.dtype.kind in "fc" and not np.isfinite(data).all():
        raise InputValueError(f"{name} must hold finite numbers: it has NaN or infinite entries", name)
    return value


def as_any_matrix(value: Any, name: str = "A"):
    """A matrix to present: a 2-d ``scipy.sparse`` array/matrix, a 2-d numeric ndarray or a SymPy matrix.

    Examples
    --------
    >>> as_any_matrix([[1, 2]], "A")
    Traceback (most recent call last):
        ...
    convmatrix.InputTypeError: A must be a 2-d scipy.sparse array, numpy ndarray or SymPy matrix, not a list
    """
    import numpy as np
    import scipy.sparse as sp

    rule = "must be a 2-d scipy.sparse array, numpy ndarray or SymPy matrix"
    if is_sympy_matrix(value):
        return value
    if not (sp.issparse(value) or isinstance(value, np.ndarray)):
        raise object_type_error(name, value, rule)
    if value.ndim != 2:
        raise InputValueError(f"{name} {rule}: got shape {tuple(value.shape)}", name)
    if value.dtype.kind not in "biufcO":
        raise InputTypeError(f"{name} {rule} of numbers: got dtype {value.dtype}", name)
    if value.dtype.kind == "O" and not sp.issparse(value):
        as_numbers(value, name)  # numbers or SymPy expressions only
    return value


def as_float_dtype(dtype, name: str = "dtype") -> "numpy.dtype":
    """A float32, float64 or complex numpy dtype (float16 refused: scipy.sparse has none).

    Examples
    --------
    >>> as_float_dtype("float32")
    dtype('float32')
    """
    import numpy as np

    if isinstance(dtype, (bool, int, float)) or dtype is None:
        raise InputTypeError(f"{name}={show(dtype)} is not a numpy dtype", name)
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError):
        raise InputTypeError(f"{name}={show(dtype)} is not a numpy dtype", name) from None
    if dt.kind not in "fc" or dt == np.float16:
        raise InputTypeError(f"{name}={show(dtype)} must be a float32/float64 or complex dtype", name)
    return dt


def as_sample_shape(value: Any, name: str) -> tuple[int, ...]:
    """``(C, *spatial)``: at least two positive integers (channels, then one or more spatial sizes).

    Examples
    --------
    >>> as_sample_shape((8,), "input_shape")
    Traceback (most recent call last):
        ...
    convmatrix.InputValueError: input_shape=(8,) must be (C, *spatial) with at least one spatial axis
    """
    if not is_sequence(value):
        raise object_type_error(name, value, "must be a sequence of positive integers (C, *spatial)")
    shape = as_sizes(value, len(value), name)
    if len(shape) < 2:
        raise value_error(name, shape, "must be (C, *spatial) with at least one spatial axis")
    return shape


def as_index(value: Any, name: str, count: int, *, base: int = 0, what: str = "an index") -> int:
    """An integer in ``[base, base + count)`` (a layer number, a feature map).

    Examples
    --------
    >>> as_index(3, "l", 2, base=1, what="a layer number")
    Traceback (most recent call last):
        ...
    convmatrix.InputValueError: l=3 must be a layer number between 1 and 2
    """
    if not is_integer(value):
        raise type_error(name, value, f"must be {what} (an integer)")
    v = operator.index(value)
    if not base <= v < base + count:
        raise value_error(name, v, f"must be {what} between {base} and {base + count - 1}")
    return v


def as_real_array(value: Any, name: str, shape: str = ""):
    """``value`` as a float64 array of real numbers (``shape`` says what is expected, for the messages).

    A torch tensor (or ``nn.Parameter``) is read through ``.detach()``: its values, not its graph.

    Examples
    --------
    >>> as_real_array([1, 2], "x").dtype
    dtype('float64')
    """
    import numpy as np

    want = f", shape {shape}" if shape else ""
    arr = _asarray(value, name, f"must be an array of real numbers{want}")
    if arr.dtype.kind not in "iuf":
        raise InputTypeError(f"{name} must be real numbers{want}: got dtype {arr.dtype}", name)
    return arr.astype(np.float64)


def as_channel_values(value: Any, name: str, channels: int | None = None, *, required: bool = False,
                      like: str | None = None):
    """One real value per channel: shape ``(channels,)``, or ``(C,)`` with ``C >= 1``.

    ``None`` passes through unless ``required``; ``like`` names the argument that fixed
    ``channels``, for the message.

    Examples
    --------
    >>> as_channel_values([1.0, 2.0, 3.0], "running_var", 2)
    Traceback (most recent call last):
        ...
    convmatrix.InputValueError: running_var must have shape (2,), one value per channel: got 3 values
    """
    if value is None:
        if required:
            raise object_type_error(name, value, "must be an array of real numbers, one per channel")
        return None
    want = "(C,)" if channels is None else f"({channels},)"
    arr = as_real_array(value, name, want)
    if arr.ndim != 1 or (channels is not None and arr.shape[0] != channels):
        got = f"{arr.shape[0]} values" if arr.ndim == 1 else f"shape {arr.shape}"
        that = f" ({like} has {channels})" if like and channels is not None else ""
        raise InputValueError(f"{name} must have shape {want}, one value per channel: got {got}{that}", name)
    if arr.shape[0] == 0:
        raise InputValueError(f"{name} must hold at least one value (one per channel): got shape (0,)", name)
    return arr


def as_mapping(value: Any, name: str, what: str = "a dict"):
    """A ``dict`` copy of a mapping; anything else refused.

    Examples
    --------
    >>> as_mapping([1], "sections")
    Traceback (most recent call last):
        ...
    convmatrix.InputTypeError: sections must be a dict, not a list
    """
    if not isinstance(value, Mapping):
        raise object_type_error(name, value, f"must be {what}")
    return dict(value)


def as_names(value: Any, name: str, what: str = "step names") -> tuple[str, ...]:
    """A sequence of strings (names), as a tuple."""
    entries = as_sequence(value, name, what)
    for v in entries:
        if not isinstance(v, str):
            raise InputTypeError(f"{name}={show(value)} must hold {what} (str): got {show(v)} of type "
                                 f"{type(v).__name__}", name)
    return entries


def as_expression(value: Any, name: str):
    """A SymPy expression: a SymPy ``Expr`` or a number (numpy scalars too); strings, booleans, relations and
    sets refused (no parsing: a string is not an expression here).

    Examples
    --------
    >>> as_expression(2, "lhs")
    2
    >>> as_expression("x + 1", "lhs")
    Traceback (most recent call last):
        ...
    convmatrix.InputTypeError: lhs='x + 1' must be a SymPy expression or a number, not a str
    """
    import sympy

    if isinstance(value, sympy.Basic):
        if not isinstance(value, sympy.Expr) or value.is_Boolean:
            raise type_error(name, value, "must be a SymPy expression (not a relation, set or boolean)")
        return value
    if is_bool(value) or isinstance(value, (str, bytes)) or not isinstance(value, numbers.Number) \
            and not (getattr(value, "ndim", None) == 0 and getattr(getattr(value, "dtype", None), "kind", "") in "iufc"):
        raise type_error(name, value, "must be a SymPy expression or a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise value_error(name, value, "must be finite")
    return sympy.sympify(value.item() if hasattr(value, "item") else value)
