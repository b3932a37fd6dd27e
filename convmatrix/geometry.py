"""Layer 1 — geometry: sizes, convolution arithmetic, and parameter validation.

Everything here is pure Python integers.  Public functions validate their
arguments once, at the boundary (through :mod:`convmatrix._validation`), and
every error names the parameter, the value and the rule.  The frozen geometry
objects validate in their constructors and are hashable, so the structure
layer can cache its plans on them.

The size relationships are those of Dumoulin & Visin, *A guide to convolution
arithmetic for deep learning* (2016), in PyTorch's conventions::

    o = floor((i + p_lo + p_hi - d (k - 1) - 1) / s) + 1                (convolution)
    o' = (i' - 1) s - p_lo - p_hi + d (k - 1) + output_padding + 1      (transposed)

:class:`TransposeArithmetic` states a transposed convolution as the direct
convolution of a stretched, padded input, in the paper's terms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Sequence, Union

from ._display import Displayable
from ._validation import (
    INT64_MAX,
    InputError,
    InputTypeError,
    InputValueError,
    as_bool,
    as_choice,
    as_int,
    as_sizes,
    is_integer,
    is_sequence,
    ndim_of,
    show,
)

__all__ = [
    "PADDING_MODES",
    "ConvGeometry",
    "ConvTransposeGeometry",
    "PoolGeometry",
    "TransposeArithmetic",
    "RELATIONSHIP_NAMES",
    "conv_output_size",
    "conv_transpose_output_size",
    "transpose_arithmetic",
    "normalize_tuple",
    "normalize_padding",
    "padding_pairs",
    "check_pad_fits",
]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
#: The most spatial axes a geometry may have (numpy arrays have at most 64 axes, two of them channels).
MAX_NDIM = 62

IntOrTuple = Union[int, Sequence[int]]
Padding = Union[int, str, Sequence[int], Sequence[Sequence[int]]]


# --------------------------------------------------------------------------- normalising
def normalize_tuple(value: IntOrTuple, ndim: int, name: str, *, minimum: int = 1,
                    axes_from: str | None = None) -> tuple[int, ...]:
    """Return ``value`` as a tuple of ``ndim`` integers, each at least ``minimum``.

    Parameters
    ----------
    value : int or sequence of int
        One integer for all axes, or one per axis (numpy integers, 0-d arrays
        and integer tensors too; never bools).
    ndim : int
        The number of spatial axes.
    name : str
        The parameter's name, for error messages.
    minimum : int, optional
        The smallest value allowed (1 for sizes, strides and dilations; 0 for
        paddings and output paddings).
    axes_from : str, optional
        What fixed the number of axes (``"the weight"``), for the message.

    Raises
    ------
    TypeError
        If ``value`` is neither an integer nor a sequence of integers.
    ValueError
        If the sequence has the wrong length, a value is below ``minimum``, or
        beyond ``2**63 - 1``.

    Examples
    --------
    >>> normalize_tuple(2, 3, "stride")
    (2, 2, 2)
    >>> normalize_tuple((1, 2), 2, "dilation")
    (1, 2)
    >>> normalize_tuple((1, 0), 2, "stride")
    Traceback (most recent call last):
        ...
    convmatrix.InputValueError: stride=(1, 0) must be positive along every axis: got 0 along axis 1
    """
    return as_sizes(value, ndim, name, minimum=minimum, axes_from=axes_from)


def padding_pairs(padding, ndim: int, name: str = "padding", *, axes_from: str | None = None
                  ) -> tuple[tuple[int, int], ...]:
    """An int, one int per axis, or one ``(lo, hi)`` pair per axis, as signed pairs.

    No sign rule here: :func:`normalize_padding` refuses negative widths, while
    ``pad_matrix`` reads them as crops.

    Raises
    ------
    TypeError, ValueError
        On a string, a non-integer entry, a wrong number of entries or a pair
        that is not two integers.

    Examples
    --------
    >>> padding_pairs(((0, -1), 2), 2)
    ((0, -1), (2, 2))
    """
    if isinstance(padding, str):
        raise InputTypeError(
            f"{name}={padding!r} must be an integer, one integer per axis or one (lo, hi) pair per axis", name)
    if not is_sequence(padding):
        p = as_int(padding, name, minimum=-INT64_MAX)
        return ((p, p),) * ndim
    entries = tuple(padding)
    if len(entries) != ndim:
        source = f" (as {axes_from})" if axes_from else ""
        raise InputValueError(
            f"{name}={show(padding)} must have one entry per spatial axis: expected {ndim}{source}, got {len(entries)}",
            name)
    pairs = []
    for axis, entry in enumerate(entries):
        if is_sequence(entry):
            pair = tuple(entry)
            if len(pair) != 2:
                raise InputValueError(
                    f"{name}={show(padding)}: entry {show(entry)} along axis {axis} must be an integer or a "
                    f"(lo, hi) pair", name)
            if not all(is_integer(v) for v in pair):
                raise InputTypeError(
                    f"{name}={show(padding)}: entry {show(entry)} along axis {axis} must be two integers", name)
            lo, hi = (as_int(v, name, minimum=-INT64_MAX) for v in pair)
        elif is_integer(entry):
            lo = hi = as_int(entry, name, minimum=-INT64_MAX)
        else:
            raise InputTypeError(
                f"{name}={show(padding)}: entry {show(entry)} along axis {axis} must be an integer or a "
                f"(lo, hi) pair, not a {type(entry).__name__}", name)
        pairs.append((lo, hi))
    return tuple(pairs)


def normalize_padding(
    padding: Padding,
    kernel_size: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    name: str = "padding",
    *,
    convolution: bool = False,
    axes_from: str | None = None,
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
                raise InputValueError(
                    f"{name}='same' is not supported for strided convolutions: "
                    f"stride={tuple(stride)} must be 1 along every axis", name)
            pairs = []
            for k, d in zip(kernel_size, dilation):
                total = d * (k - 1)
                small, large = total // 2, total - total // 2
                pairs.append((large, small) if convolution else (small, large))
            return tuple(pairs)
        raise InputValueError(f"{name}={show(padding)} is not a padding: use an integer, a tuple, 'same' or 'valid'",
                              name)
    if (type(padding) is tuple and len(padding) == ndim  # already normalised (a geometry's own field): as is
            and all(type(p) is tuple and len(p) == 2 and type(p[0]) is int and type(p[1]) is int
                    and 0 <= p[0] <= INT64_MAX and 0 <= p[1] <= INT64_MAX for p in padding)):
        return padding
    pairs = padding_pairs(padding, ndim, name, axes_from=axes_from)
    for axis, (lo, hi) in enumerate(pairs):
        if lo < 0 or hi < 0:
            raise InputValueError(
                f"{name}={show(padding)} must be non-negative: got ({lo}, {hi}) along axis {axis}", name)
    return tuple(pairs)


def check_pad_fits(padding, input_size, padding_mode: str, name: str = "padding") -> None:
    """reflect: each side < input size; circular: each side <= input size (as torch).

    Examples
    --------
    >>> check_pad_fits(((3, 3),), (3,), "reflect")
    Traceback (most recent call last):
        ...
    convmatrix.InputValueError: padding=(3, 3) is too large for reflect mode along axis 0: each side must be smaller than the input size 3
    """
    for axis, ((lo, hi), n) in enumerate(zip(padding, input_size)):
        if padding_mode == "reflect" and max(lo, hi) >= n:
            raise InputValueError(
                f"{name}={(lo, hi)} is too large for reflect mode along axis {axis}: "
                f"each side must be smaller than the input size {n}", name)
        if padding_mode == "circular" and max(lo, hi) > n:
            raise InputValueError(
                f"{name}={(lo, hi)} is too large for circular mode along axis {axis}: "
                f"each side must be at most the input size {n}", name)


def _output_size(input_size, kernel_size, stride, padding, dilation) -> tuple[int, ...]:
    return tuple(
        (n + lo + hi - d * (k - 1) - 1) // s + 1
        for n, k, s, (lo, hi), d in zip(input_size, kernel_size, stride, padding, dilation)
    )


def _check_int64(input_size, kernel_size, padding, dilation) -> None:
    """Padded sizes and dilated kernels must fit int64 index arithmetic."""
    for axis, (n, k, (lo, hi), d) in enumerate(zip(input_size, kernel_size, padding, dilation)):
        if n + max(lo, 0) + max(hi, 0) > INT64_MAX or d * (k - 1) + 1 > INT64_MAX:
            raise InputValueError(
                f"input_size {n} padded by ({lo}, {hi}) with a dilated kernel of {d * (k - 1) + 1} along axis "
                f"{axis} is beyond 2**63 - 1: int64 index arithmetic cannot hold it", "input_size")


def _check_output(out, input_size, kernel_size, padding, dilation, what="convolution"):
    for axis, o in enumerate(out):
        if o < 1:
            n, k, (lo, hi), d = input_size[axis], kernel_size[axis], padding[axis], dilation[axis]
            raise InputValueError(
                f"the {what} output would be empty along axis {axis}: input_size {n} padded by "
                f"({lo}, {hi}) is {n + lo + hi}, smaller than the dilated kernel size "
                f"dilation*(kernel_size-1)+1 = {d * (k - 1) + 1}", "input_size")


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
    ndim = ndim_of(input_size, kernel_size, stride, dilation, padding) or 1
    n = normalize_tuple(input_size, ndim, "input_size")
    k = normalize_tuple(kernel_size, ndim, "kernel_size")
    s = normalize_tuple(stride, ndim, "stride")
    d = normalize_tuple(dilation, ndim, "dilation")
    p = normalize_padding(padding, k, s, d)
    _check_int64(n, k, p, d)
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
    ndim = ndim_of(input_size, kernel_size, stride, dilation, padding, output_padding) or 1
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
        raise InputValueError("padding='same' is not defined for a transposed convolution: give the widths", "padding")
    return normalize_padding(padding, k, s, d)


def _check_output_padding(output_padding, ndim, stride, dilation):
    op = normalize_tuple(output_padding, ndim, "output_padding", minimum=0)
    for axis, (o, s, d) in enumerate(zip(op, stride, dilation)):
        if o >= max(s, d):
            raise InputValueError(
                f"output_padding={show(output_padding)} must be smaller than either stride or "
                f"dilation along every axis: got {o} with stride {s} and dilation {d} along axis {axis}",
                "output_padding")
    return op


def _transpose_output_size(n, k, s, p, op, d):
    return tuple(
        (i - 1) * st - lo - hi + di * (kk - 1) + o + 1
        for i, kk, st, (lo, hi), o, di in zip(n, k, s, p, op, d)
    )


def _check_transpose_output(out, n, p):
    for axis, o in enumerate(out):
        if o < 1:
            raise InputValueError(
                f"the transposed convolution output would be empty along axis {axis}: "
                f"padding {p[axis]} removes more than the {o + sum(p[axis])} positions of "
                f"input_size {n[axis]}", "padding")
        if o > INT64_MAX:
            raise InputValueError(
                f"the transposed convolution output along axis {axis} has {o} positions, beyond 2**63 - 1: "
                f"int64 index arithmetic cannot hold it", "input_size")


# --------------------------------------------------------------------------- geometry objects
def _weight_channels(weight_shape, input_size, groups, layout):
    """Validate ``(C0, C1, *k)`` against the input's axes and ``groups``; ``layout`` names C0, C1."""
    if not is_sequence(weight_shape):
        raise InputTypeError(f"weight_shape={show(weight_shape)} must be a sequence of integers "
                             f"({layout[0]}, {layout[1]}, *kernel_size)", "weight_shape")
    weight_shape = tuple(weight_shape)
    if len(weight_shape) < 3:
        raise InputValueError(
            f"weight must have shape ({layout[0]}, {layout[1]}, *kernel_size) with at "
            f"least one spatial axis: got weight_shape={show(weight_shape)}", "weight")
    ndim = len(weight_shape) - 2
    in_ndim = ndim_of(input_size)
    if in_ndim is not None and in_ndim != ndim:
        raise InputValueError(
            f"input_size={show(input_size)} has {in_ndim} spatial axes but the weight of shape "
            f"{weight_shape} has {ndim} (weight.ndim - 2)", "input_size")
    shape = tuple(as_int(v, "weight_shape", minimum=0) if is_integer(v) else _not_a_size(weight_shape)
                  for v in weight_shape)
    if any(v < 1 for v in shape):
        raise InputValueError(f"weight shape {shape} must have positive sizes along every axis", "weight")
    groups = as_int(groups, "groups", minimum=1)
    return shape[0], shape[1], shape[2:], groups


def _not_a_size(weight_shape):
    raise InputTypeError(f"weight_shape={show(weight_shape)} must hold integers (a weight's shape)", "weight_shape")


def _same_axes(kernel_size, input_size) -> None:
    """The kernel fixes the number of spatial axes: refuse an input size with another number, naming both."""
    if is_sequence(kernel_size) and len(kernel_size) == 0:
        raise InputValueError("kernel_size=() must have at least one entry (one per spatial axis)", "kernel_size")
    if is_sequence(kernel_size) and is_sequence(input_size) and len(kernel_size) != len(input_size):
        raise InputValueError(f"kernel_size={show(kernel_size)} and input_size={show(input_size)} must have the same "
                              f"number of entries (one per spatial axis)", "kernel_size")


def _check_groups(groups, c0, c1_total, layout):
    if c0 % groups:
        raise InputValueError(f"groups={groups} must divide {layout[0]}={c0} (weight.shape[0])", "groups")
    if c1_total % groups:
        raise InputValueError(f"groups={groups} must divide {layout[1]}={c1_total}", "groups")


@dataclass(frozen=True)
class ConvGeometry(Displayable):
    """The frozen shape of an N-d convolution: everything but the numbers.

    Build it with :meth:`from_weight_shape` from a weight's shape and loose
    parameters; the constructor takes the fields themselves (any form
    :func:`normalize_tuple` and :func:`normalize_padding` read) and validates them
    the same way.

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

    Raises
    ------
    TypeError, ValueError
        Naming the field: channels that ``groups`` does not divide, bad sizes,
        a padding too wide for its mode, an empty output.

    Examples
    --------
    >>> g = ConvGeometry.from_weight_shape((4, 3, 3, 3), (8, 8), stride=2, padding=1)
    >>> g.output_size, g.shape
    ((4, 4), (64, 192))
    >>> ConvGeometry(4, 3, (3, 3), (8, 8), 2, 1, 1) == g
    True
    """

    out_channels: int
    in_channels: int
    kernel_size: tuple[int, ...]
    input_size: tuple[int, ...]
    stride: tuple[int, ...] = 1
    padding: tuple[tuple[int, int], ...] = 0
    dilation: tuple[int, ...] = 1
    groups: int = 1
    padding_mode: str = "zeros"
    output_limit: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        c_out = as_int(self.out_channels, "out_channels", minimum=1)
        c_in = as_int(self.in_channels, "in_channels", minimum=1)
        _same_axes(self.kernel_size, self.input_size)
        ndim = ndim_of(self.kernel_size, self.input_size)
        if ndim is None:
            ndim = ndim_of(self.stride, self.dilation, self.padding) or 1
        axes = "kernel_size" if is_sequence(self.kernel_size) else "input_size"
        k = normalize_tuple(self.kernel_size, ndim, "kernel_size", axes_from=axes)
        n = normalize_tuple(self.input_size, ndim, "input_size", axes_from=axes)
        s = normalize_tuple(self.stride, ndim, "stride", axes_from=axes)
        d = normalize_tuple(self.dilation, ndim, "dilation", axes_from=axes)
        p = normalize_padding(self.padding, k, s, d, axes_from=axes)
        groups = as_int(self.groups, "groups", minimum=1)
        _check_groups(groups, c_out, c_in, ("out_channels", "in_channels"))
        limit = self.output_limit
        if limit is not None:
            limit = normalize_tuple(limit, ndim, "output_limit")
        self._set(c_out, c_in, k, n, s, p, d, groups, self.padding_mode, limit)

    def _set(self, c_out, c_in, k, n, s, p, d, groups, padding_mode, limit) -> None:
        """Check the mode and how the sizes fit together, then set the fields (each already normalised)."""
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        mode = as_choice(padding_mode, "padding_mode", PADDING_MODES)
        check_pad_fits(p, n, mode)
        _check_int64(n, k, p, d)
        full = _output_size(n, k, s, p, d)
        _check_output(full, n, k, p, d)
        for name, value in (("out_channels", c_out), ("in_channels", c_in), ("kernel_size", k), ("input_size", n),
                            ("stride", s), ("padding", p), ("dilation", d), ("groups", groups),
                            ("padding_mode", mode), ("output_limit", limit)):
            put(name, value)
        # derived sizes, computed once (not fields: equality, hash and repr are the fields')
        out = full if limit is None else tuple(min(o, m) for o, m in zip(full, limit))
        put("_sizes", (full, out, (c_out * prod(out), c_in * prod(n))))
        put("_hash", hash((c_out, c_in, k, n, s, p, d, groups, mode, limit)))

    def __hash__(self) -> int:
        return self._hash

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

        Parameters
        ----------
        weight_shape : sequence of int
        input_size, stride, padding, dilation, groups, padding_mode
            As :func:`convmatrix.conv_matrix`.
        convolution : bool, optional
            Where ``"same"`` puts the odd zero (see :func:`normalize_padding`).

        Raises
        ------
        TypeError, ValueError
            Naming the parameter, its value and the rule broken.

        Examples
        --------
        >>> ConvGeometry.from_weight_shape((6, 2, 3), 10, groups=4)
        Traceback (most recent call last):
            ...
        convmatrix.InputValueError: groups=4 must divide out_channels=6 (weight.shape[0])
        """
        c_out, c_in_g, k, groups = _weight_channels(
            weight_shape, input_size, groups, ("out_channels", "in_channels/groups"))
        convolution = as_bool(convolution, "convolution")
        ndim = len(k)
        axes = f"the weight of shape {tuple(weight_shape)}"
        s = normalize_tuple(stride, ndim, "stride", axes_from=axes)
        d = normalize_tuple(dilation, ndim, "dilation", axes_from=axes)
        if c_out % groups:
            raise InputValueError(f"groups={groups} must divide out_channels={c_out} (weight.shape[0])", "groups")
        p = normalize_padding(padding, k, s, d, convolution=convolution, axes_from=axes)
        n = normalize_tuple(input_size, ndim, "input_size", axes_from="kernel_size")
        # every field is validated: set them without the constructor's second pass over them
        geometry = object.__new__(cls)
        geometry._set(c_out, c_in_g * groups, k, n, s, p, d, groups, padding_mode, None)
        return geometry

    # -- derived sizes
    @property
    def ndim(self) -> int:
        """Number of spatial axes."""
        return len(self.kernel_size)

    @property
    def full_output_size(self) -> tuple[int, ...]:
        """Output size before ``output_limit``."""
        return self._sizes[0]

    @property
    def output_size(self) -> tuple[int, ...]:
        """Spatial output size (after ``output_limit``, if any)."""
        return self._sizes[1]

    @property
    def in_channels_per_group(self) -> int:
        """``C_in / groups``."""
        return self.in_channels // self.groups

    @property
    def out_channels_per_group(self) -> int:
        """``C_out / groups``."""
        return self.out_channels // self.groups

    @property
    def weight_shape(self) -> tuple[int, ...]:
        """``(C_out, C_in/groups, *kernel_size)``."""
        return (self.out_channels, self.in_channels_per_group, *self.kernel_size)

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the convolution matrix."""
        return self._sizes[2]

    @property
    def padded_size(self) -> tuple[int, ...]:
        """The input size with its padding."""
        return tuple(n + lo + hi for n, (lo, hi) in zip(self.input_size, self.padding))


@dataclass(frozen=True)
class ConvTransposeGeometry(Displayable):
    """The frozen shape of a transposed convolution, weight ``(C_in, C_out/groups, *k)``.

    Its matrix is the transpose of :attr:`conv`'s: the convolution whose input
    is this layer's output and whose output is this layer's input.  The
    constructor validates its fields as :class:`ConvGeometry`'s does.

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
    stride: tuple[int, ...] = 1
    padding: tuple[tuple[int, int], ...] = 0
    output_padding: tuple[int, ...] = 0
    dilation: tuple[int, ...] = 1
    groups: int = 1
    padding_mode: str = "zeros"

    def __post_init__(self) -> None:
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        c_in = as_int(self.in_channels, "in_channels", minimum=1)
        c_out = as_int(self.out_channels, "out_channels", minimum=1)
        _same_axes(self.kernel_size, self.input_size)
        ndim = ndim_of(self.kernel_size, self.input_size)
        if ndim is None:
            ndim = ndim_of(self.stride, self.dilation, self.padding, self.output_padding) or 1
        axes = "kernel_size" if is_sequence(self.kernel_size) else "input_size"
        k = normalize_tuple(self.kernel_size, ndim, "kernel_size", axes_from=axes)
        n = normalize_tuple(self.input_size, ndim, "input_size", axes_from=axes)
        s = normalize_tuple(self.stride, ndim, "stride", axes_from=axes)
        d = normalize_tuple(self.dilation, ndim, "dilation", axes_from=axes)
        p = _transpose_padding(self.padding, k, s, d)
        groups = as_int(self.groups, "groups", minimum=1)
        _check_groups(groups, c_in, c_out, ("in_channels", "out_channels"))
        op = _check_output_padding(self.output_padding, ndim, s, d)
        mode = as_choice(self.padding_mode, "padding_mode", PADDING_MODES)
        _check_int64(n, k, ((0, 0),) * ndim, d)
        out = _transpose_output_size(n, k, s, p, op, d)
        _check_transpose_output(out, n, p)
        if mode != "zeros":  # the padded convolution over the output must exist
            check_pad_fits(p, out, mode)
        for name, value in (("in_channels", c_in), ("out_channels", c_out), ("kernel_size", k), ("input_size", n),
                            ("stride", s), ("padding", p), ("output_padding", op), ("dilation", d),
                            ("groups", groups), ("padding_mode", mode)):
            put(name, value)

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
        padding_mode: str = "zeros",
    ) -> "ConvTransposeGeometry":
        """Validate a transposed convolution's parameters (see :class:`ConvGeometry`).

        Raises
        ------
        TypeError, ValueError
            Naming the parameter, its value and the rule broken.

        Examples
        --------
        >>> ConvTransposeGeometry.from_weight_shape((1, 1, 3), 4, stride=2, output_padding=2)
        Traceback (most recent call last):
            ...
        convmatrix.InputValueError: output_padding=2 must be smaller than either stride or dilation along every axis: got 2 with stride 2 and dilation 1 along axis 0
        """
        c_in, c_out_g, k, groups = _weight_channels(
            weight_shape, input_size, groups, ("in_channels", "out_channels/groups"))
        if c_in % groups:
            raise InputValueError(f"groups={groups} must divide in_channels={c_in} (weight.shape[0])", "groups")
        return cls(c_in, c_out_g * groups, k, input_size, stride, padding, output_padding, dilation, groups,
                   padding_mode)

    @property
    def ndim(self) -> int:
        """Number of spatial axes."""
        return len(self.kernel_size)

    @property
    def output_size(self) -> tuple[int, ...]:
        """Spatial output size ``o'``."""
        return _transpose_output_size(
            self.input_size, self.kernel_size, self.stride, self.padding, self.output_padding, self.dilation
        )

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the transposed convolution's matrix."""
        return (self.out_channels * prod(self.output_size), self.in_channels * prod(self.input_size))

    @property
    def conv(self) -> ConvGeometry:
        """The convolution this layer transposes.

        Its weight is this layer's weight read in conv layout ``(C_in, C_out/groups, *k)``;
        its input size is this layer's output size, padded in this layer's
        ``padding_mode``.  When ``output_padding >= stride`` along an axis, that
        convolution has more output positions than this layer has inputs;
        ``output_limit`` keeps only the first ones.
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
            padding_mode=self.padding_mode,
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

    Window ``j`` covers ``j s - p + t d`` for ``t < k``.  A window that starts
    inside the input holds its start.  One that starts in the left padding
    (``j < ceil(p / s)``) reaches the input first at ``(j s - p) mod d`` (its
    first tap there exists, since ``p <= k / 2``), so it misses the input exactly
    when that residue is ``>= n``: only when ``n < d``, and periodically in ``j``
    with period ``d / gcd(s, d)``, so one period is enough to look at.
    """
    if n >= d:
        return None
    before = min(o, -(-p // s))
    period = d // _gcd(s, d)
    for j in range(min(before, period)):
        if (j * s - p) % d >= n:
            return j
    return None


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


@dataclass(frozen=True)
class PoolGeometry(Displayable):
    """The sizes of an N-d pooling (torch's ``MaxPoolNd`` / ``AvgPoolNd``), validated.

    Shared by max pooling with switches (:mod:`convmatrix.pooling`) and the
    average and sum pooling matrices (:mod:`convmatrix.resample`); make one with
    :meth:`from_args` or the constructor (both validate).

    Attributes
    ----------
    input_size, kernel_size, stride, padding, dilation : tuple of int
        Per axis; ``padding`` is symmetric and at most half the kernel size;
        ``stride`` defaults to ``kernel_size``.
    ceil_mode : bool
    output_size : tuple of int
        ``floor_or_ceil((n + 2p - d (k - 1) - 1) / s) + 1``, less one in ceil
        mode where that last window would start in the right padding (torch's rule).

    Raises
    ------
    TypeError, ValueError
        Naming the parameter: bad sizes, strides, dilations, a negative or
        too large padding, a non-bool ``ceil_mode``, an empty output, or a
        window that holds only padding (possible with dilation; torch then
        returns an out-of-range index).

    Examples
    --------
    >>> PoolGeometry.from_args((5, 6), 2).output_size
    (2, 3)
    >>> PoolGeometry(5, 2, ceil_mode=True).output_size
    (3,)
    >>> PoolGeometry.from_args(5, 3, stride=2, padding=2)
    Traceback (most recent call last):
        ...
    convmatrix.InputValueError: padding=2 must be at most half the kernel size along every axis (as torch): got 2 with kernel_size 3 along axis 0
    """

    input_size: tuple[int, ...]
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...] | None = None
    padding: tuple[int, ...] = 0
    dilation: tuple[int, ...] = 1
    ceil_mode: bool = False
    output_size: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        ndim = ndim_of(self.input_size, self.kernel_size, self.stride, self.padding, self.dilation) or 1
        self._normalise(ndim)

    def _normalise(self, ndim: int) -> None:
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        n = normalize_tuple(self.input_size, ndim, "input_size")
        k = normalize_tuple(self.kernel_size, ndim, "kernel_size")
        s = k if self.stride is None else normalize_tuple(self.stride, ndim, "stride")
        p = normalize_tuple(self.padding, ndim, "padding", minimum=0)
        d = normalize_tuple(self.dilation, ndim, "dilation")
        ceil_mode = as_bool(self.ceil_mode, "ceil_mode")
        for axis, (pa, ka) in enumerate(zip(p, k)):
            if 2 * pa > ka:
                raise InputValueError(
                    f"padding={show(self.padding)} must be at most half the kernel size along every axis "
                    f"(as torch): got {pa} with kernel_size {ka} along axis {axis}", "padding")
        _check_int64(n, k, tuple((pa, pa) for pa in p), d)
        out = tuple(_pool_output_size(*args, ceil_mode) for args in zip(n, k, s, p, d))
        for axis, o in enumerate(out):
            if o < 1:
                raise InputValueError(
                    f"the pooling output would be empty along axis {axis}: input_size {n[axis]} padded "
                    f"by {p[axis]} on each side is {n[axis] + 2 * p[axis]}, smaller than the dilated "
                    f"kernel size dilation*(kernel_size-1)+1 = {d[axis] * (k[axis] - 1) + 1}", "kernel_size")
        for axis, args in enumerate(zip(n, k, s, p, d, out)):
            j = _only_padding(*args)
            if j is not None:
                raise InputValueError(
                    f"pooling window {j} along axis {axis} sees only padding (input_size {n[axis]}, "
                    f"padding={p[axis]}, dilation={d[axis]}): every window must hold an input entry "
                    f"(torch returns an out-of-range index there)", "dilation")
        for name, value in (("input_size", n), ("kernel_size", k), ("stride", s), ("padding", p),
                            ("dilation", d), ("ceil_mode", ceil_mode), ("output_size", out)):
            put(name, value)

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
            As the constructor.
        """
        if ndim is None:
            return cls(input_size, kernel_size, stride, padding, dilation, ceil_mode)
        ndim = as_int(ndim, "ndim", minimum=1, maximum=MAX_NDIM)
        self = object.__new__(cls)
        for name, value in (("input_size", input_size), ("kernel_size", kernel_size), ("stride", stride),
                            ("padding", padding), ("dilation", dilation), ("ceil_mode", ceil_mode)):
            object.__setattr__(self, name, value)
        self._normalise(ndim)
        return self

    @property
    def ndim(self) -> int:
        """Number of spatial axes."""
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
        channels = as_int(channels, "channels", minimum=1)
        pads = tuple(
            (pa, max(pa, (o - 1) * sa + da * (ka - 1) + 1 - na - pa))
            for na, ka, sa, pa, da, o in zip(
                self.input_size, self.kernel_size, self.stride, self.padding, self.dilation, self.output_size
            )
        )
        return ConvGeometry(channels, channels, self.kernel_size, self.input_size, self.stride, pads,
                            self.dilation, channels)


# --------------------------------------------------------------------------- transposed arithmetic
#: Dumoulin & Visin's relationships 8-14 (chapter 4) by number: what configuration each describes.
RELATIONSHIP_NAMES = {
    8: "no zero padding, unit strides, transposed",
    9: "zero padding, unit strides, transposed",
    10: "half (same) padding, transposed",
    11: "full padding, transposed",
    12: "no zero padding, non-unit strides, transposed",
    13: "zero padding, non-unit strides, transposed",
    14: "the general case: a extra zeros on the high side, a = (i + 2p - k) mod s",
}


def _pairs(pairs) -> str:
    return repr(tuple((int(lo), int(hi)) for lo, hi in pairs))


#: ConvTransposeGeometry's field -> TransposeArithmetic's (the paper's) name.
_PAPER_NAMES = {"input_size": "i_prime", "kernel_size": "k", "stride": "s", "padding": "p", "output_padding": "a",
                "dilation": "d"}


def _renamed(exc: InputError, names: dict) -> InputError:
    """The same refusal with the parameters spelled as the caller spelled them."""
    text = str(exc)
    for old, new in names.items():
        text = text.replace(f"{old}=", f"{new}=").replace(f"{old} ", f"{new} ")
    return type(exc)(text, names.get(exc.parameter, exc.parameter))


@dataclass(frozen=True)
class TransposeArithmetic(Displayable):
    """A transposed convolution and its equivalent direct convolution, in Dumoulin & Visin's terms.

    All fields are per-axis tuples.  Primed names belong to the equivalent
    direct convolution (the paper's ``k'``, ``s'``, ``p'``, ``ĩ'``); unprimed
    ones to the transposed convolution, whose kernel, stride and padding are
    those of the convolution ``k``, ``s``, ``p`` it transposes.

    Attributes
    ----------
    i_prime : tuple of int
        Input size ``i'`` of the transposed convolution.
    k, s, d : tuple of int
        Kernel size, stride and dilation.
    p : tuple of (int, int)
        Padding ``(lo, hi)`` of the transposed convolution (removed from its output).
    a : tuple of int
        Extra zeros on the high side (PyTorch's ``output_padding``).
    k_hat : tuple of int
        Dilated kernel size ``k + (k - 1)(d - 1)`` (relationship 15).
    i_tilde_prime : tuple of int
        Stretched input size ``ĩ' = s (i' - 1) + 1`` (``s - 1`` zeros between units).
    k_prime, s_prime, d_prime : tuple of int
        Kernel size ``k' = k``, stride ``s' = 1`` and dilation ``d' = d`` of the
        equivalent direct convolution.
    p_prime : tuple of (int, int)
        Its padding before ``a``: ``k_hat - 1 - p`` on each side (the paper's
        ``p' = k - p - 1``); negative means cropping.
    pad_widths : tuple of (int, int)
        What is actually padded: ``(p'_lo, p'_hi + a)``.
    padded_size : tuple of int
        ``ĩ' + p'_lo + p'_hi + a``, the direct convolution's input size.
    o_prime : tuple of int
        Output size ``o' = s (i' - 1) + a + k_hat - p_lo - p_hi``.
    relationship : tuple of int
        Per axis, the number of the paper's relationship (8 to 14) that describes
        the axis (with ``k`` read as ``k_hat`` when dilated; 15 is then used too).

    Examples
    --------
    The paper's figure 4.7 (``i = 6, k = 3, s = 2, p = 1``):

    >>> t = TransposeArithmetic.of_convolution(6, 3, stride=2, padding=1)
    >>> t.i_prime, t.a, t.i_tilde_prime, t.k_prime, t.s_prime, t.p_prime, t.o_prime
    ((3,), (1,), (5,), (3,), (1,), ((1, 1),), (6,))
    >>> t.relationship
    (14,)
    """

    i_prime: tuple[int, ...]
    k: tuple[int, ...]
    s: tuple[int, ...]
    p: tuple[tuple[int, int], ...]
    a: tuple[int, ...]
    d: tuple[int, ...]
    k_hat: tuple[int, ...] = field(init=False)
    i_tilde_prime: tuple[int, ...] = field(init=False)
    k_prime: tuple[int, ...] = field(init=False)
    s_prime: tuple[int, ...] = field(init=False)
    d_prime: tuple[int, ...] = field(init=False)
    p_prime: tuple[tuple[int, int], ...] = field(init=False)
    pad_widths: tuple[tuple[int, int], ...] = field(init=False)
    padded_size: tuple[int, ...] = field(init=False)
    o_prime: tuple[int, ...] = field(init=False)
    relationship: tuple[int, ...] = field(init=False)

    def __post_init__(self):
        put = lambda name, value: object.__setattr__(self, name, tuple(value))  # noqa: E731
        # the same rules as ConvTransposeGeometry's (which refuses what torch refuses), in the paper's names
        try:
            g = ConvTransposeGeometry(1, 1, self.k, self.i_prime, self.s, self.p, self.a, self.d)
        except InputError as exc:
            raise _renamed(exc, _PAPER_NAMES) from None
        for name, value in (("i_prime", g.input_size), ("k", g.kernel_size), ("s", g.stride), ("p", g.padding),
                            ("a", g.output_padding), ("d", g.dilation)):
            object.__setattr__(self, name, value)
        k_hat = [d * (k - 1) + 1 for k, d in zip(self.k, self.d)]
        put("k_hat", k_hat)
        put("i_tilde_prime", [s * (i - 1) + 1 for i, s in zip(self.i_prime, self.s)])
        put("k_prime", self.k)
        put("s_prime", [1] * len(self.k))
        put("d_prime", self.d)
        put("p_prime", [(kh - 1 - lo, kh - 1 - hi) for kh, (lo, hi) in zip(k_hat, self.p)])
        put("pad_widths", [(lo, hi + a) for (lo, hi), a in zip(self.p_prime, self.a)])
        put("padded_size", [it + lo + hi for it, (lo, hi) in zip(self.i_tilde_prime, self.pad_widths)])
        put("o_prime", [s * (i - 1) + a + kh - lo - hi
                        for s, i, a, kh, (lo, hi) in zip(self.s, self.i_prime, self.a, k_hat, self.p)])
        put("relationship", [_relationship(*args) for args in zip(k_hat, self.s, self.p, self.a)])

    @classmethod
    def of_convolution(
        cls,
        input_size: IntOrTuple,
        kernel_size: IntOrTuple,
        *,
        stride: IntOrTuple = 1,
        padding: Padding = 0,
        dilation: IntOrTuple = 1,
    ) -> "TransposeArithmetic":
        """The transposed convolution associated with a convolution (the paper's direction).

        A convolution of input size ``i`` has output size ``o``; its transpose
        takes ``i' = o`` back to ``i``, with ``a = (i + p_lo + p_hi - k_hat) mod s``
        (relationship 14).

        Raises
        ------
        TypeError, ValueError
            As :func:`convmatrix.conv_output_size`.

        Examples
        --------
        >>> TransposeArithmetic.of_convolution(5, 3, stride=2).o_prime
        (5,)
        """
        ndim = ndim_of(input_size, kernel_size, stride, dilation, padding) or 1
        geom = ConvGeometry.from_weight_shape(
            (1, 1, *normalize_tuple(kernel_size, ndim, "kernel_size")), input_size,
            stride=stride, padding=padding, dilation=dilation,
        )
        a = [(i + lo + hi - (d * (k - 1) + 1)) % s for i, (lo, hi), k, d, s in
             zip(geom.input_size, geom.padding, geom.kernel_size, geom.dilation, geom.stride)]
        return cls(geom.output_size, geom.kernel_size, geom.stride, geom.padding, tuple(a), geom.dilation)

    @property
    def ndim(self) -> int:
        return len(self.k)

    @property
    def i(self) -> tuple[int, ...]:
        """Input size of the convolution this transposes (its output size ``o'``)."""
        return self.o_prime

    def __str__(self) -> str:
        names = ", ".join(f"{r} ({RELATIONSHIP_NAMES[r]})" for r in sorted(set(self.relationship)))
        dilated = any(d > 1 for d in self.d)
        lines = [
            f"transposed convolution: i' = {self.i_prime}, k = {self.k}, s = {self.s}, "
            f"p = {_pairs(self.p)}, a = {self.a}" + (f", d = {self.d}" if dilated else ""),
            f"  transposes a convolution of input size i = {self.i} (output {self.i_prime})",
            f"equivalent direct convolution (relationship {names}"
            + ("; 15 for the dilation" if dilated else "") + "):",
            f"  stretch: {tuple(s - 1 for s in self.s)} zeros between input units, "
            f"ĩ' = s (i' - 1) + 1 = {self.i_tilde_prime}",
            f"  pad:     p' = k_hat - p - 1 = {_pairs(self.p_prime)}, plus a = {self.a} on the high side"
            f" -> widths {_pairs(self.pad_widths)}, size {self.padded_size}"
            + (" (negative = crop)" if any(min(w) < 0 for w in self.pad_widths) else ""),
            f"  convolve: k' = {self.k_prime}, s' = {self.s_prime}"
            + (f", d' = {self.d_prime} (k_hat = {self.k_hat})" if dilated else "")
            + ", flipped kernel",
            f"  output:  o' = s (i' - 1) + a + k_hat - p_lo - p_hi = {self.o_prime}",
        ]
        return "\n".join(lines)


def _relationship(k: int, s: int, p: tuple[int, int], a: int) -> int:
    """The paper's relationship for one axis; ``k`` is the (dilated) kernel size ``k_hat``."""
    lo, hi = p
    if s == 1 and a == 0:
        if lo == hi == 0:
            return 8
        if lo == hi == k - 1:
            return 11
        if k % 2 == 1 and lo == hi == k // 2:
            return 10
        return 9
    if a == 0:
        return 12 if lo == hi == 0 else 13
    return 14


def transpose_arithmetic(
    input_size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    output_padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> TransposeArithmetic:
    """The equivalent direct convolution of a transposed convolution, in Dumoulin & Visin's terms.

    Parameters
    ----------
    input_size, kernel_size : int or tuple of int
        ``i'`` and ``k`` (spatial); the number of axes is taken from the first tuple.
    stride, padding, output_padding, dilation : optional
        As ``torch.nn.ConvTransposeNd`` (``output_padding`` is the paper's ``a``);
        padding may be per-axis ``(lo, hi)`` pairs.

    Returns
    -------
    TransposeArithmetic

    Raises
    ------
    TypeError, ValueError
        As :func:`convmatrix.conv_transpose_output_size`.

    Examples
    --------
    The DCGAN up-sampling layer: 4 x 4 kernel, stride 2, padding 1, 8 -> 16.

    >>> t = transpose_arithmetic((8, 8), 4, stride=2, padding=1)
    >>> print(t)
    transposed convolution: i' = (8, 8), k = (4, 4), s = (2, 2), p = ((1, 1), (1, 1)), a = (0, 0)
      transposes a convolution of input size i = (16, 16) (output (8, 8))
    equivalent direct convolution (relationship 13 (zero padding, non-unit strides, transposed)):
      stretch: (1, 1) zeros between input units, ĩ' = s (i' - 1) + 1 = (15, 15)
      pad:     p' = k_hat - p - 1 = ((2, 2), (2, 2)), plus a = (0, 0) on the high side -> widths ((2, 2), (2, 2)), size (19, 19)
      convolve: k' = (4, 4), s' = (1, 1), flipped kernel
      output:  o' = s (i' - 1) + a + k_hat - p_lo - p_hi = (16, 16)
    """
    ndim = ndim_of(input_size, kernel_size, stride, dilation, padding, output_padding) or 1
    k = normalize_tuple(kernel_size, ndim, "kernel_size")
    tg = ConvTransposeGeometry.from_weight_shape(
        (1, 1, *k), input_size, stride=stride, padding=padding, output_padding=output_padding,
        dilation=dilation,
    )
    return TransposeArithmetic(tg.input_size, tg.kernel_size, tg.stride, tg.padding, tg.output_padding, tg.dilation)


