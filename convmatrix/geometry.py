"""Layer 1 — geometry: sizes, convolution arithmetic, and parameter validation.

Everything here is pure Python integers.  Public functions validate their
arguments once, at the boundary, and every error names the parameter, the value
and the rule.  The frozen geometry objects are hashable, so the structure layer
can cache its plans on them.

The size relationships are those of Dumoulin & Visin, *A guide to convolution
arithmetic for deep learning* (2016), in PyTorch's conventions::

    o = floor((i + p_lo + p_hi - d (k - 1) - 1) / s) + 1                (convolution)
    o' = (i' - 1) s - p_lo - p_hi + d (k - 1) + output_padding + 1      (transposed)
"""

from __future__ import annotations

import numbers
import operator
from dataclasses import dataclass
from math import isfinite, prod
from collections.abc import Mapping, Set
from typing import Sequence, Union

__all__ = [
    "PADDING_MODES",
    "ConvGeometry",
    "ConvTransposeGeometry",
    "PoolGeometry",
    "conv_output_size",
    "conv_transpose_output_size",
    "normalize_tuple",
    "normalize_padding",
]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")

IntOrTuple = Union[int, Sequence[int]]
Padding = Union[int, str, Sequence[int], Sequence[Sequence[int]]]


# --------------------------------------------------------------------------- helpers
def _is_sequence(value) -> bool:
    """Whether ``value`` is one entry per axis: a list, tuple, 1-d array or tensor.

    Strings, mappings and sets are not (they are refused as integers next), nor
    are 0-d arrays and tensors (``np.array(5)``, ``torch.tensor(5)``): those are
    integers.
    """
    if isinstance(value, (str, bytes, Mapping, Set)):
        return False
    if getattr(value, "ndim", None) == 0:
        return False
    return isinstance(value, Sequence) or (hasattr(value, "__len__") and hasattr(value, "__getitem__"))


def _is_bool(value) -> bool:
    """``True``/``False`` or one of numpy's bools (numpy not imported: layer 1 is pure Python)."""
    return isinstance(value, bool) or (type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"))


def _as_bool(value, name: str) -> bool:
    """``value`` as a bool: ``True``/``False`` or numpy's bools; nothing else (no 0/1, no strings)."""
    if _is_bool(value):
        return bool(value)
    raise TypeError(f"{name}={value!r} must be True or False, not a {type(value).__name__}")


def _as_real(value, name: str, *, positive: bool = False) -> float:
    """A finite real scalar, non-negative (or ``positive``); bools and non-numbers refused."""
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={value!r} must be a real number, not a {type(value).__name__}")
    v = float(value)
    if not isfinite(v) or v < 0 or (positive and v == 0):
        raise ValueError(f"{name}={value} must be a finite {'positive' if positive else 'non-negative'} number")
    return v


def _as_int(value, name: str) -> int:
    """``operator.index`` with a message that names the parameter; bools refused."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got the bool {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(
            f"{name} must be an integer, got {value!r} of type {type(value).__name__}"
        ) from None


def normalize_tuple(value: IntOrTuple, ndim: int, name: str, *, minimum: int = 1) -> tuple[int, ...]:
    """Return ``value`` as a tuple of ``ndim`` integers, each at least ``minimum``.

    Parameters
    ----------
    value : int or sequence of int
        One integer for all axes, or one per axis.
    ndim : int
        The number of spatial axes.
    name : str
        The parameter's name, for error messages.
    minimum : int, optional
        The smallest value allowed (1 for sizes, strides and dilations; 0 for
        paddings and output paddings).

    Raises
    ------
    TypeError
        If ``value`` is neither an integer nor a sequence of integers.
    ValueError
        If the sequence has the wrong length or a value is below ``minimum``.

    Examples
    --------
    >>> normalize_tuple(2, 3, "stride")
    (2, 2, 2)
    >>> normalize_tuple((1, 2), 2, "dilation")
    (1, 2)
    >>> normalize_tuple((1, 0), 2, "stride")
    Traceback (most recent call last):
        ...
    ValueError: stride=(1, 0) must be positive along every axis: got 0 along axis 1
    """
    if isinstance(value, str):
        raise TypeError(f"{name} must be an integer or a tuple of {ndim} integers, got {value!r}")
    if _is_sequence(value):
        values = tuple(value)
        if len(values) != ndim:
            raise ValueError(
                f"{name}={_fmt(value)} must have one entry per spatial axis: "
                f"expected {ndim}, got {len(values)}"
            )
        out = tuple(_as_int(v, name) for v in values)
    else:
        out = (_as_int(value, name),) * ndim
    for axis, v in enumerate(out):
        if v < minimum:
            rule = "positive" if minimum == 1 else f"at least {minimum}"
            if minimum == 0:
                rule = "non-negative"
            raise ValueError(
                f"{name}={_fmt(value)} must be {rule} along every axis: got {v} along axis {axis}"
            )
    return out


def _fmt(value) -> str:
    if isinstance(value, (list, tuple)):
        return repr(tuple(_fmt_inner(v) for v in value))
    return repr(value)


def _fmt_inner(v):
    if isinstance(v, (list, tuple)):
        return tuple(_fmt_inner(x) for x in v)
    try:
        return operator.index(v)
    except TypeError:
        return v


def normalize_padding(
    padding: Padding,
    kernel_size: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    name: str = "padding",
    *,
    convolution: bool = False,
) -> tuple[tuple[int, int], ...]:
    """Return padding as one ``(lo, hi)`` pair per axis.

    Parameters
    ----------
    padding : int, str, sequence of int, or sequence of (int, int)
        ``"valid"`` (none), ``"same"`` (output size equals input size; stride 1
        only), one width for every side, one width per axis, or one
        ``(lo, hi)`` pair per axis.
    kernel_size, stride, dilation : tuple of int
        Already normalised, one entry per axis.
    name : str, optional
        The parameter's name, for error messages.
    convolution : bool, optional
        For ``"same"``: where the total ``d (k - 1)`` is odd, PyTorch (cross-
        correlation) puts the extra zero on the high side; a true convolution
        (``numpy.convolve(..., "same")``) on the low side.

    Raises
    ------
    TypeError, ValueError
        On an unknown string, a negative width, a wrong number of entries, or
        ``"same"`` with a stride other than 1.

    Examples
    --------
    >>> normalize_padding("same", (4, 3), (1, 1), (1, 2))
    ((1, 2), (2, 2))
    >>> normalize_padding(((0, 1), 2), (3, 3), (1, 1), (1, 1))
    ((0, 1), (2, 2))
    """
    ndim = len(kernel_size)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * ndim
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(
                    f"{name}='same' is not supported for strided convolutions: "
                    f"stride={tuple(stride)} must be 1 along every axis"
                )
            pairs = []
            for k, d in zip(kernel_size, dilation):
                total = d * (k - 1)
                small, large = total // 2, total - total // 2
                pairs.append((large, small) if convolution else (small, large))
            return tuple(pairs)
        raise ValueError(f"{name}={padding!r} is not a padding: use an integer, a tuple, 'same' or 'valid'")
    pairs = padding_pairs(padding, ndim, name)
    for axis, (lo, hi) in enumerate(pairs):
        if lo < 0 or hi < 0:
            raise ValueError(
                f"{name}={_fmt(padding)} must be non-negative: got ({lo}, {hi}) along axis {axis}"
            )
    return tuple(pairs)


def padding_pairs(padding, ndim: int, name: str = "padding") -> tuple[tuple[int, int], ...]:
    """An int, one int per axis, or one ``(lo, hi)`` pair per axis, as signed pairs.

    No sign rule here: :func:`normalize_padding` refuses negative widths, while
    ``pad_matrix`` reads them as crops.

    Examples
    --------
    >>> padding_pairs(((0, -1), 2), 2)
    ((0, -1), (2, 2))
    """
    if isinstance(padding, str):
        raise TypeError(
            f"{name}={padding!r} must be an integer, one integer per axis or one (lo, hi) pair per axis"
        )
    if _is_sequence(padding):
        entries = tuple(padding)
        if len(entries) != ndim:
            raise ValueError(
                f"{name}={_fmt(padding)} must have one entry per spatial axis: "
                f"expected {ndim}, got {len(entries)}"
            )
        pairs = []
        for axis, entry in enumerate(entries):
            if isinstance(entry, str):
                raise TypeError(f"{name}={_fmt(padding)}: entry {entry!r} along axis {axis} is not an integer")
            if _is_sequence(entry):
                pair = tuple(entry)
                if len(pair) != 2:
                    raise ValueError(
                        f"{name}={_fmt(padding)}: entry {_fmt(entry)} along axis {axis} "
                        f"must be an integer or a (lo, hi) pair"
                    )
                lo, hi = (_as_int(v, name) for v in pair)
            else:
                lo = hi = _as_int(entry, name)
            pairs.append((lo, hi))
        return tuple(pairs)
    p = _as_int(padding, name)
    return ((p, p),) * ndim


def _check_padding_mode(padding_mode: str) -> str:
    if padding_mode not in PADDING_MODES:
        raise ValueError(
            f"padding_mode={padding_mode!r} is not one of {', '.join(map(repr, PADDING_MODES))}"
        )
    return padding_mode


def _check_pad_fits(padding, input_size, padding_mode, name="padding"):
    """reflect: each side < input size; circular: each side <= input size (as torch)."""
    for axis, ((lo, hi), n) in enumerate(zip(padding, input_size)):
        if padding_mode == "reflect" and max(lo, hi) >= n:
            raise ValueError(
                f"{name}={(lo, hi)} is too large for reflect mode along axis {axis}: "
                f"each side must be smaller than the input size {n}"
            )
        if padding_mode == "circular" and max(lo, hi) > n:
            raise ValueError(
                f"{name}={(lo, hi)} is too large for circular mode along axis {axis}: "
                f"each side must be at most the input size {n}"
            )


def _output_size(input_size, kernel_size, stride, padding, dilation) -> tuple[int, ...]:
    return tuple(
        (n + lo + hi - d * (k - 1) - 1) // s + 1
        for n, k, s, (lo, hi), d in zip(input_size, kernel_size, stride, padding, dilation)
    )


def _check_output(out, input_size, kernel_size, padding, dilation, what="convolution"):
    for axis, o in enumerate(out):
        if o < 1:
            n, k, (lo, hi), d = input_size[axis], kernel_size[axis], padding[axis], dilation[axis]
            raise ValueError(
                f"the {what} output would be empty along axis {axis}: input_size {n} padded by "
                f"({lo}, {hi}) is {n + lo + hi}, smaller than the dilated kernel size "
                f"dilation*(kernel_size-1)+1 = {d * (k - 1) + 1}"
            )


def _ndim_of(*values) -> int | None:
    for v in values:
        if _is_sequence(v):
            return len(v)
    return None


# --------------------------------------------------------------------------- public sizes
def conv_output_size(
    input_size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
) -> tuple[int, ...]:
    """Spatial output size of a convolution (PyTorch's ``ConvNd`` formula).

    ``o = floor((i + p_lo + p_hi - d (k - 1) - 1) / s) + 1`` along every axis.

    Parameters
    ----------
    input_size, kernel_size : int or tuple of int
        Spatial sizes; the number of axes is taken from the first tuple given.
    stride, dilation : int or tuple of int, optional
    padding : int, tuple, (lo, hi) pairs, "same" or "valid", optional

    Returns
    -------
    tuple of int

    Raises
    ------
    TypeError, ValueError
        On non-positive sizes, strides or dilations, negative padding, or an
        empty output.

    Examples
    --------
    >>> conv_output_size(5, 3)
    (3,)
    >>> conv_output_size((56, 56), 3, padding=1)
    (56, 56)
    >>> conv_output_size((7, 8), 3, stride=2, padding=((1, 0), 1), dilation=(1, 2))
    (3, 3)
    """
    ndim = _ndim_of(input_size, kernel_size, stride, dilation, padding) or 1
    n = normalize_tuple(input_size, ndim, "input_size")
    k = normalize_tuple(kernel_size, ndim, "kernel_size")
    s = normalize_tuple(stride, ndim, "stride")
    d = normalize_tuple(dilation, ndim, "dilation")
    p = normalize_padding(padding, k, s, d)
    out = _output_size(n, k, s, p, d)
    _check_output(out, n, k, p, d)
    return out


def conv_transpose_output_size(
    input_size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    output_padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> tuple[int, ...]:
    """Spatial output size of a transposed convolution (PyTorch's ``ConvTransposeNd``).

    ``o' = (i' - 1) s - p_lo - p_hi + d (k - 1) + output_padding + 1``.

    Parameters
    ----------
    input_size, kernel_size : int or tuple of int
        Spatial sizes ``i'`` and ``k``; the number of axes is taken from the
        first tuple among all arguments (1 if none is one).
    stride, dilation : int or tuple of int, optional
    padding : int, tuple of int, or (lo, hi) pairs, optional
        Removed from the output, as torch's ``padding``.
    output_padding : int or tuple of int, optional
        Extra positions on the high side.

    Returns
    -------
    tuple of int

    Raises
    ------
    TypeError, ValueError
        As :func:`conv_output_size`, and when ``output_padding`` is not smaller
        than ``stride`` or ``dilation`` (PyTorch's rule).

    Examples
    --------
    >>> conv_transpose_output_size((2, 2), 2, stride=2)
    (4, 4)
    >>> conv_transpose_output_size(8, 4, stride=2, padding=1)
    (16,)
    >>> conv_transpose_output_size(3, 3, stride=1, output_padding=1, dilation=2)
    (8,)
    """
    ndim = _ndim_of(input_size, kernel_size, stride, dilation, padding, output_padding) or 1
    n = normalize_tuple(input_size, ndim, "input_size")
    k = normalize_tuple(kernel_size, ndim, "kernel_size")
    s = normalize_tuple(stride, ndim, "stride")
    d = normalize_tuple(dilation, ndim, "dilation")
    p = _transpose_padding(padding, k, s, d)
    op = _check_output_padding(output_padding, ndim, s, d)
    out = _transpose_output_size(n, k, s, p, op, d)
    _check_transpose_output(out, n, p)
    return out


def _transpose_padding(padding, k, s, d):
    if isinstance(padding, str) and padding == "same":
        raise ValueError("padding='same' is not defined for a transposed convolution: give the widths")
    return normalize_padding(padding, k, s, d)


def _check_output_padding(output_padding, ndim, stride, dilation):
    op = normalize_tuple(output_padding, ndim, "output_padding", minimum=0)
    for axis, (o, s, d) in enumerate(zip(op, stride, dilation)):
        if o >= max(s, d):
            raise ValueError(
                f"output_padding={_fmt(output_padding)} must be smaller than either stride or "
                f"dilation along every axis: got {o} with stride {s} and dilation {d} along axis {axis}"
            )
    return op


def _transpose_output_size(n, k, s, p, op, d):
    return tuple(
        (i - 1) * st - lo - hi + di * (kk - 1) + o + 1
        for i, kk, st, (lo, hi), o, di in zip(n, k, s, p, op, d)
    )


def _check_transpose_output(out, n, p):
    for axis, o in enumerate(out):
        if o < 1:
            raise ValueError(
                f"the transposed convolution output would be empty along axis {axis}: "
                f"padding {p[axis]} removes more than the {o + sum(p[axis])} positions of "
                f"input_size {n[axis]}"
            )


# --------------------------------------------------------------------------- geometry objects
def _check_weight_shape(weight_shape, input_size, groups, layout):
    """Validate ``(C0, C1, *k)`` against the input's axes and ``groups``; ``layout`` names C0, C1."""
    weight_shape = tuple(weight_shape)
    if len(weight_shape) < 3:
        raise ValueError(
            f"weight must have shape ({layout[0]}, {layout[1]}, *kernel_size) with at "
            f"least one spatial axis: got shape {weight_shape}"
        )
    ndim = len(weight_shape) - 2
    in_ndim = _ndim_of(input_size)
    if in_ndim is not None and in_ndim != ndim:
        raise ValueError(
            f"input_size={_fmt(input_size)} has {in_ndim} spatial axes but the weight of shape "
            f"{weight_shape} has {ndim} (weight.ndim - 2)"
        )
    groups = _as_int(groups, "groups")
    if groups < 1:
        raise ValueError(f"groups={groups} must be positive")
    c0, c1 = weight_shape[:2]
    if c0 < 1 or c1 < 1 or any(k < 1 for k in weight_shape[2:]):
        raise ValueError(f"weight shape {weight_shape} must have positive sizes along every axis")
    if c0 % groups:
        raise ValueError(f"groups={groups} must divide {layout[0]}={c0} (weight.shape[0])")
    return c0, c1, tuple(weight_shape[2:]), groups



@dataclass(frozen=True)
class ConvGeometry:
    """The frozen shape of an N-d convolution: everything but the numbers.

    Build it with :meth:`from_weight_shape`, which validates; the constructor
    trusts its (already normalised) arguments.

    Attributes
    ----------
    out_channels, in_channels, groups : int
    kernel_size, input_size, stride, dilation : tuple of int
    padding : tuple of (int, int)
        ``(lo, hi)`` per axis.
    padding_mode : str
        One of ``zeros``, ``reflect``, ``replicate``, ``circular``.
    output_limit : tuple of int or None
        Keep only the first ``output_limit[a]`` output positions along axis
        ``a`` (used by the transposed convolution's ``output_padding >= stride``
        corner); ``None`` keeps all.

    Examples
    --------
    >>> g = ConvGeometry.from_weight_shape((4, 3, 3, 3), (8, 8), stride=2, padding=1)
    >>> g.output_size, g.shape
    ((4, 4), (64, 192))
    """

    out_channels: int
    in_channels: int
    kernel_size: tuple[int, ...]
    input_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    dilation: tuple[int, ...]
    groups: int = 1
    padding_mode: str = "zeros"
    output_limit: tuple[int, ...] | None = None

    @classmethod
    def from_weight_shape(
        cls,
        weight_shape: Sequence[int],
        input_size: IntOrTuple,
        *,
        stride: IntOrTuple = 1,
        padding: Padding = 0,
        dilation: IntOrTuple = 1,
        groups: int = 1,
        padding_mode: str = "zeros",
        convolution: bool = False,
    ) -> "ConvGeometry":
        """Validate a convolution's parameters against a weight of shape ``(C_out, C_in/groups, *k)``.

        Raises
        ------
        TypeError, ValueError
            Naming the parameter, its value and the rule broken.

        Examples
        --------
        >>> ConvGeometry.from_weight_shape((6, 2, 3), 10, groups=4)
        Traceback (most recent call last):
            ...
        ValueError: groups=4 must divide out_channels=6 (weight.shape[0])
        """
        c_out, c_in_g, k, groups = _check_weight_shape(
            weight_shape, input_size, groups, ("out_channels", "in_channels/groups")
        )
        ndim = len(k)
        n = normalize_tuple(input_size, ndim, "input_size")
        s = normalize_tuple(stride, ndim, "stride")
        d = normalize_tuple(dilation, ndim, "dilation")
        p = normalize_padding(padding, k, s, d, convolution=convolution)
        _check_padding_mode(padding_mode)
        _check_pad_fits(p, n, padding_mode)
        _check_output(_output_size(n, k, s, p, d), n, k, p, d)
        return cls(c_out, c_in_g * groups, k, n, s, p, d, groups, padding_mode)

    # -- derived sizes
    @property
    def ndim(self) -> int:
        """Number of spatial axes."""
        return len(self.kernel_size)

    @property
    def full_output_size(self) -> tuple[int, ...]:
        """Output size before ``output_limit``."""
        return _output_size(self.input_size, self.kernel_size, self.stride, self.padding, self.dilation)

    @property
    def output_size(self) -> tuple[int, ...]:
        """Spatial output size (after ``output_limit``, if any)."""
        full = self.full_output_size
        if self.output_limit is None:
            return full
        return tuple(min(o, m) for o, m in zip(full, self.output_limit))

    @property
    def in_channels_per_group(self) -> int:
        return self.in_channels // self.groups

    @property
    def out_channels_per_group(self) -> int:
        return self.out_channels // self.groups

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return (self.out_channels, self.in_channels_per_group, *self.kernel_size)

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the convolution matrix."""
        return (self.out_channels * prod(self.output_size), self.in_channels * prod(self.input_size))

    @property
    def padded_size(self) -> tuple[int, ...]:
        return tuple(n + lo + hi for n, (lo, hi) in zip(self.input_size, self.padding))


@dataclass(frozen=True)
class ConvTransposeGeometry:
    """The frozen shape of a transposed convolution, weight ``(C_in, C_out/groups, *k)``.

    Its matrix is the transpose of :attr:`conv`'s: the convolution whose input
    is this layer's output and whose output is this layer's input.

    Examples
    --------
    >>> t = ConvTransposeGeometry.from_weight_shape((1, 1, 2, 2), (2, 2), stride=2)
    >>> t.output_size, t.conv.input_size, t.conv.output_size
    ((4, 4), (4, 4), (2, 2))
    """

    in_channels: int
    out_channels: int
    kernel_size: tuple[int, ...]
    input_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    output_padding: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int = 1

    @classmethod
    def from_weight_shape(
        cls,
        weight_shape: Sequence[int],
        input_size: IntOrTuple,
        *,
        stride: IntOrTuple = 1,
        padding: Padding = 0,
        output_padding: IntOrTuple = 0,
        groups: int = 1,
        dilation: IntOrTuple = 1,
    ) -> "ConvTransposeGeometry":
        """Validate a transposed convolution's parameters (see :class:`ConvGeometry`).

        Examples
        --------
        >>> ConvTransposeGeometry.from_weight_shape((1, 1, 3), 4, stride=2, output_padding=2)
        Traceback (most recent call last):
            ...
        ValueError: output_padding=2 must be smaller than either stride or dilation along every axis: got 2 with stride 2 and dilation 1 along axis 0
        """
        c_in, c_out_g, k, groups = _check_weight_shape(
            weight_shape, input_size, groups, ("in_channels", "out_channels/groups")
        )
        ndim = len(k)
        n = normalize_tuple(input_size, ndim, "input_size")
        s = normalize_tuple(stride, ndim, "stride")
        d = normalize_tuple(dilation, ndim, "dilation")
        p = _transpose_padding(padding, k, s, d)
        op = _check_output_padding(output_padding, ndim, s, d)
        out = _transpose_output_size(n, k, s, p, op, d)
        _check_transpose_output(out, n, p)
        return cls(c_in, c_out_g * groups, k, n, s, p, op, d, groups)

    @property
    def ndim(self) -> int:
        return len(self.kernel_size)

    @property
    def output_size(self) -> tuple[int, ...]:
        return _transpose_output_size(
            self.input_size, self.kernel_size, self.stride, self.padding, self.output_padding, self.dilation
        )

    @property
    def shape(self) -> tuple[int, int]:
        return (self.out_channels * prod(self.output_size), self.in_channels * prod(self.input_size))

    @property
    def conv(self) -> ConvGeometry:
        """The convolution this layer transposes.

        Its weight is this layer's weight read in conv layout ``(C_in, C_out/groups, *k)``;
        its input size is this layer's output size.  When ``output_padding >= stride``
        along an axis, that convolution has more output positions than this layer has
        inputs; ``output_limit`` keeps only the first ones.
        """
        return ConvGeometry(
            out_channels=self.in_channels,
            in_channels=self.out_channels,
            kernel_size=self.kernel_size,
            input_size=self.output_size,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=self.groups,
            padding_mode="zeros",
            output_limit=self.input_size,
        )


# --------------------------------------------------------------------------- pooling
def _pool_output_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """torch's pooling output size (ATen's ``pooling_output_shape``)."""
    span = n + 2 * p - d * (k - 1) - 1
    o = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= n + p:  # the last window must start inside the input or the left padding
        o -= 1
    return o


def _only_padding(n: int, k: int, s: int, p: int, d: int, o: int) -> int | None:
    """The first window along one axis that holds no input position, or ``None``.

    Window ``j`` covers ``j s - p + t d`` for ``t < k``; only windows that start
    before the input or past its end can miss it.
    """
    before = range(min(o, -(-p // s)))
    after = range(max(0, min(o, -(-(n + p) // s))), o)
    for j in (*before, *after):
        start = j * s - p
        t0 = 0 if start >= 0 else -(-(-start) // d)  # first tap at or after position 0
        if not (t0 <= k - 1 and start + t0 * d < n):
            return j
    return None


@dataclass(frozen=True)
class PoolGeometry:
    """The sizes of an N-d pooling (torch's ``MaxPoolNd`` / ``AvgPoolNd``), validated.

    Shared by max pooling with switches (:mod:`convmatrix.pooling`) and the
    average and sum pooling matrices (:mod:`convmatrix.resample`); make one with
    :meth:`from_args`.

    Attributes
    ----------
    input_size, kernel_size, stride, padding, dilation : tuple of int
        Per axis; ``padding`` is symmetric and at most half the kernel size.
    ceil_mode : bool
    output_size : tuple of int
        ``floor_or_ceil((n + 2p - d (k - 1) - 1) / s) + 1``, less one in ceil
        mode where that last window would start in the right padding (torch's rule).

    Examples
    --------
    >>> PoolGeometry.from_args((5, 6), 2).output_size
    (2, 3)
    >>> PoolGeometry.from_args(5, 2, ceil_mode=True).output_size
    (3,)
    >>> PoolGeometry.from_args(5, 3, stride=2, padding=2)
    Traceback (most recent call last):
        ...
    ValueError: padding=2 must be at most half the kernel size along every axis (as torch): got 2 with kernel_size 3 along axis 0
    """

    input_size: tuple[int, ...]
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    ceil_mode: bool
    output_size: tuple[int, ...]

    @classmethod
    def from_args(
        cls,
        input_size: IntOrTuple,
        kernel_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        padding: IntOrTuple = 0,
        dilation: IntOrTuple = 1,
        ceil_mode: bool = False,
        *,
        ndim: int | None = None,
    ) -> "PoolGeometry":
        """Validate torch-style pooling arguments.

        Parameters
        ----------
        input_size, kernel_size : int or tuple of int
            Spatial sizes; the number of axes is ``ndim``, else taken from the
            first tuple among all arguments (1 if none is one).
        stride : int or tuple of int, optional
            Defaults to ``kernel_size`` (as torch).
        padding : int or tuple of int, optional
            Symmetric, at most half the kernel size.
        dilation : int or tuple of int, optional
        ceil_mode : bool, optional
            Round the output size up; a last window that would start in the
            right padding is dropped (torch's rule).
        ndim : int, optional
            Number of spatial axes, when the input fixes it.

        Raises
        ------
        TypeError, ValueError
            Naming the parameter: bad sizes, strides, dilations, a negative or
            too large padding, a non-bool ``ceil_mode``, an empty output, or a
            window that holds only padding (possible with dilation; torch then
            returns an out-of-range index).
        """
        if ndim is None:
            ndim = _ndim_of(input_size, kernel_size, stride, padding, dilation) or 1
        n = normalize_tuple(input_size, ndim, "input_size")
        k = normalize_tuple(kernel_size, ndim, "kernel_size")
        s = k if stride is None else normalize_tuple(stride, ndim, "stride")
        p = normalize_tuple(padding, ndim, "padding", minimum=0)
        d = normalize_tuple(dilation, ndim, "dilation")
        ceil_mode = _as_bool(ceil_mode, "ceil_mode")
        for axis, (pa, ka) in enumerate(zip(p, k)):
            if 2 * pa > ka:
                raise ValueError(
                    f"padding={_fmt(padding)} must be at most half the kernel size along every axis "
                    f"(as torch): got {pa} with kernel_size {ka} along axis {axis}"
                )
        out = tuple(_pool_output_size(*args, ceil_mode) for args in zip(n, k, s, p, d))
        for axis, o in enumerate(out):
            if o < 1:
                raise ValueError(
                    f"the pooling output would be empty along axis {axis}: input_size {n[axis]} padded "
                    f"by {p[axis]} on each side is {n[axis] + 2 * p[axis]}, smaller than the dilated "
                    f"kernel size dilation*(kernel_size-1)+1 = {d[axis] * (k[axis] - 1) + 1}"
                )
        for axis, args in enumerate(zip(n, k, s, p, d, out)):
            j = _only_padding(*args)
            if j is not None:
                raise ValueError(
                    f"pooling window {j} along axis {axis} sees only padding (input_size {n[axis]}, "
                    f"padding={p[axis]}, dilation={d[axis]}): every window must hold an input entry "
                    f"(torch returns an out-of-range index there)"
                )
        return cls(n, k, s, p, d, ceil_mode, out)

    @property
    def ndim(self) -> int:
        return len(self.kernel_size)

    def window_geometry(self, channels: int = 1) -> ConvGeometry:
        """The windows as a depthwise convolution over ``channels`` maps (its tap map lists them).

        In ceil mode the high side gets the extra padding that gives torch's
        output size; a window overhanging it holds only its real entries.

        Examples
        --------
        >>> PoolGeometry.from_args(5, 2, ceil_mode=True).window_geometry().padding
        ((0, 1),)
        """
        pads = tuple(
            (pa, max(pa, (o - 1) * sa + da * (ka - 1) + 1 - na - pa))
            for na, ka, sa, pa, da, o in zip(
                self.input_size, self.kernel_size, self.stride, self.padding, self.dilation, self.output_size
            )
        )
        geometry = ConvGeometry.from_weight_shape(
            (channels, 1, *self.kernel_size), self.input_size, stride=self.stride, padding=pads,
            dilation=self.dilation, groups=channels,
        )
        assert geometry.output_size == self.output_size, (geometry.output_size, self.output_size)
        return geometry
