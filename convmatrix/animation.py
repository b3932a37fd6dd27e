"""Layer 7 — animations of convolutions in the style of Dumoulin & Visin's figures, as GIFs (the ``plot`` extra).

*A guide to convolution arithmetic for deep learning* (2016) draws a
convolution as a kernel sliding over a padded input, one output position per
frame, and a transposed convolution as the direct convolution it equals: a
unit-stride convolution of the flipped kernel over the input with ``s - 1``
zeros inserted between its units and padded by ``p' = k̂ - 1 - p`` (plus
``output_padding`` zeros on the high side).  Their figures are 2-D, zero
padded and one channel; here any configuration is drawn:

* any number of spatial axes: 1-d as a row, 3-d and more as 2-D slices side by side;
* stride, dilation, per-axis ``(lo, hi)`` padding, ``output_padding`` (the
  transposed view's extra zeros are drawn in their own colour), negative
  ``p'`` (the stretched input cropped);
* the padding modes ``reflect``, ``replicate`` and ``circular``: a border cell
  shows the number of the input pixel it copies.

A :class:`ConvScene` holds what the frames show (read off the geometry and,
for the transposed view, :class:`~convmatrix.TransposeArithmetic`);
:func:`plot_conv_frame` draws one frame into a figure and :func:`animate_conv`
writes them all as a GIF through matplotlib's ``PillowWriter``.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import InputTypeError, InputValueError, as_bool, as_int, as_real, is_sequence
from .geometry import ConvGeometry, ConvTransposeGeometry, TransposeArithmetic, normalize_tuple, transpose_arithmetic
from .plot._grid import montage_layout, slice_labels, spatial_lead_names
from .plot._mpl import axes_grid, require_matplotlib, root_figure
from .structure import axis_index_map

__all__ = ["ConvScene", "conv_scene", "scene_of", "plot_conv_frame", "animate_conv", "CELL_COLORS", "MAX_FRAMES"]

#: Cell kinds of the drawn input.
INPUT, PAD, BORDER, INSERTED, OUTPUT_PAD = range(5)
#: Face colour of each cell kind (input, zero padding, copied border, inserted zero, output_padding zero).
CELL_COLORS = ("#6fa8dc", "#eeeeee", "#c9def2", "#fff2b3", "#f4c7c3")
CELL_NAMES = ("input", "zero padding", "border copy", "inserted zero", "output_padding zero")
#: The kernel's footprint (over the input) and the current output.
KERNEL_COLOR, OUTPUT_COLOR, DONE_COLOR = "#1c4587", "#38761d", "#b6d7a8"
#: Most frames an animation draws (one per output position).
MAX_FRAMES = 1024
#: Size of a cell in the pictures.
CELL_INCHES = 0.32


@dataclass(frozen=True, eq=False)
class ConvScene:
    """What every frame of a convolution's animation shows.

    Attributes
    ----------
    kind : {"conv", "transposed"}
    cells : ndarray of int, shape grid_size
        The drawn input, cell by cell: input pixel, zero padding, copied border,
        inserted zero or ``output_padding`` zero (``INPUT``, ``PAD``, ``BORDER``,
        ``INSERTED``, ``OUTPUT_PAD``).
    source : ndarray of int, shape grid_size
        Flat index of the input pixel a cell shows, ``-1`` for zeros.
    input_size, output_size, kernel_size : tuple of int
        Of the layer (the transposed convolution's ``i'`` and ``o'``).
    stride, dilation : tuple of int
        Of the convolution drawn (stride 1 for the transposed view).
    flipped : bool
        Whether the kernel is drawn flipped (the transposed view).
    title : str

    Examples
    --------
    >>> s = conv_scene(3, 5, stride=2, padding=1)
    >>> s.cells.tolist(), s.output_size, s.frames
    ([1, 0, 0, 0, 0, 0, 1], (3,), 3)
    >>> s.footprint(1)[0].tolist()                 # output 1 reads padded cells 2, 3, 4
    [[2], [3], [4]]
    """

    kind: str
    cells: np.ndarray
    source: np.ndarray
    input_size: tuple
    output_size: tuple
    kernel_size: tuple
    stride: tuple
    dilation: tuple
    flipped: bool
    title: str

    @property
    def ndim(self) -> int:
        return len(self.kernel_size)

    @property
    def grid_size(self) -> tuple:
        """Size of the drawn input (padded, and zero-inserted for the transposed view)."""
        return self.cells.shape

    @property
    def frames(self) -> int:
        """One frame per output position."""
        return prod(self.output_size)

    def footprint(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """``(cells, taps)``: grid indices ``(taps, ndim)`` read by output position ``frame``, and the kernel
        entry (flat, as the layer's weight is indexed) at each."""
        o = np.array(np.unravel_index(frame, self.output_size))
        t = np.indices(self.kernel_size).reshape(self.ndim, -1).T
        cells = o[None, :] * np.array(self.stride) + t * np.array(self.dilation)
        taps = np.array(self.kernel_size)[None, :] - 1 - t if self.flipped else t
        return cells, np.ravel_multi_index(taps.T, self.kernel_size)

    def inputs_read(self, frame: int) -> np.ndarray:
        """Sorted flat indices of the input pixels the footprint of ``frame`` covers (what its matrix row holds)."""
        cells, _ = self.footprint(frame)
        src = self.source[tuple(cells.T)]
        return np.unique(src[src >= 0])


def _as_sizes(value, ndim: int, name: str, minimum: int = 1) -> tuple:
    return normalize_tuple(value, ndim, name, minimum=minimum)


def _ndim(*values) -> int:
    for v in values:
        if is_sequence(v):
            return len(v)
    return 1


def _conv_cells(g: ConvGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Per cell of the padded input: its kind and the input pixel it shows."""
    kinds, sources = [], []
    for n, (lo, hi) in zip(g.input_size, g.padding):
        pos = np.arange(-lo, n + hi)
        src = axis_index_map(pos, n, g.padding_mode)
        inside = (pos >= 0) & (pos < n)
        kinds.append(inside)
        sources.append(src)
    inside = np.ones((), dtype=bool)
    src = np.zeros((), dtype=np.int64)
    valid = np.ones((), dtype=bool)
    for n, k, s in zip(g.input_size, kinds, sources):
        inside = np.logical_and.outer(inside, k)
        valid = np.logical_and.outer(valid, s >= 0)
        src = np.add.outer(src * n, np.maximum(s, 0))
    cells = np.where(inside, INPUT, PAD if g.padding_mode == "zeros" else BORDER)
    return cells.astype(np.int8), np.where(valid, src, -1)


def _transposed_cells(a: TransposeArithmetic) -> tuple[np.ndarray, np.ndarray]:
    """Per cell of the stretched, padded input: input, inserted zero, padding or output_padding zero."""
    codes, sources = [], []
    for i, s, (lo, hi), extra, size, it in zip(a.i_prime, a.s, a.pad_widths, a.a, a.padded_size, a.i_tilde_prime):
        u = np.arange(size) - lo  # position in the stretched input
        code = np.full(size, PAD)
        inside = (u >= 0) & (u < it)
        code[inside & (u % s != 0)] = INSERTED
        code[inside & (u % s == 0)] = INPUT
        tail = np.flatnonzero(u >= it)
        if extra and tail.size:
            code[tail[-min(extra, tail.size):]] = OUTPUT_PAD
        codes.append(code)
        sources.append(np.where(inside & (u % s == 0), u // s, -1))
    cells = np.full((), INPUT)
    src = np.zeros((), dtype=np.int64)
    valid = np.ones((), dtype=bool)
    for i, code, s in zip(a.i_prime, codes, sources):
        cells = _combine(cells, code)
        valid = np.logical_and.outer(valid, s >= 0)
        src = np.add.outer(src * i, np.maximum(s, 0))
    return cells.astype(np.int8), np.where(valid, src, -1)


def _combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The kind of a cell from its axes' kinds: padding wins, then output_padding, then inserted zeros."""
    a, b = np.asarray(a)[..., None], np.asarray(b)
    out = np.full(np.broadcast_shapes(a.shape, b.shape), INSERTED)
    out[(a == INPUT) & (b == INPUT)] = INPUT
    out[(a == OUTPUT_PAD) | (b == OUTPUT_PAD)] = OUTPUT_PAD
    out[(a == PAD) | (b == PAD)] = PAD
    return out


def _pairs(p) -> str:
    """Per-axis padding as ``1x1``, or ``1/2x0`` where an axis pads unevenly (``lo/hi``)."""
    return "x".join(f"{lo}" if lo == hi else f"{lo}/{hi}" for lo, hi in p)


def _x(t) -> str:
    """A per-axis size as ``5x5``."""
    return "x".join(map(str, t))


def conv_scene(
    kernel_size: Any,
    input_size: Any,
    *,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    padding_mode: str = "zeros",
    transposed: bool = False,
    output_padding: Any = 0,
) -> ConvScene:
    """The scene of a convolution (or of a transposed convolution, as its equivalent direct one).

    Parameters
    ----------
    kernel_size, input_size : int or tuple of int
        Spatial sizes (one channel is drawn); the number of axes comes from the first tuple.
    stride, padding, dilation, padding_mode : optional
        As :func:`~convmatrix.conv_matrix` (``padding_mode`` for a direct
        convolution only: torch's transposed convolutions pad with zeros).
    transposed : bool, optional
        Draw the transposed convolution of these parameters (``input_size`` is
        its ``i'``) as the unit-stride convolution of the flipped kernel over the
        zero-inserted, padded input.
    output_padding : int or tuple of int, optional
        Of the transposed convolution.

    Returns
    -------
    ConvScene

    Raises
    ------
    TypeError, ValueError
        As :class:`~convmatrix.ConvGeometry` / :func:`~convmatrix.transpose_arithmetic`,
        and ``output_padding`` or a padding mode other than zeros where they do not apply.

    Examples
    --------
    Dumoulin & Visin's figure 4.5 (``i' = 2, k = 3, s = 2``, no padding):

    >>> s = conv_scene(3, (2, 2), stride=2, transposed=True)
    >>> s.grid_size, s.output_size, s.cells[2].tolist()
    ((7, 7), (5, 5), [1, 1, 0, 3, 0, 1, 1])
    """
    transposed = as_bool(transposed, "transposed")
    ndim = _ndim(kernel_size, input_size, stride, dilation, padding, output_padding)
    k = _as_sizes(kernel_size, ndim, "kernel_size")
    if not transposed:
        if any(normalize_tuple(output_padding, ndim, "output_padding", minimum=0)):
            raise InputValueError(f"output_padding={output_padding!r} applies to a transposed convolution only "
                                  "(transposed=True)", "output_padding")
        g = ConvGeometry.from_weight_shape((1, 1, *k), input_size, stride=stride, padding=padding, dilation=dilation,
                                           padding_mode=padding_mode)
        cells, source = _conv_cells(g)
        title = (f"convolution: i = {_x(g.input_size)}, k = {_x(g.kernel_size)}, s = {_x(g.stride)}, "
                 f"p = {_pairs(g.padding)}" + (f", d = {_x(g.dilation)}" if any(d > 1 for d in g.dilation) else "")
                 + ("" if g.padding_mode == "zeros" else f", {g.padding_mode} padding")
                 + f" -> o = {_x(g.output_size)}")
        return ConvScene("conv", cells, source, g.input_size, g.output_size, g.kernel_size, g.stride, g.dilation,
                         False, title)
    if padding_mode != "zeros":
        raise InputValueError(f"padding_mode={padding_mode!r}: a transposed convolution is drawn with zero padding "
                              "only (as torch's ConvTransposeNd)", "padding_mode")
    a = transpose_arithmetic(input_size, k, stride, padding, output_padding, dilation)
    return _transposed_scene(a)


def _transposed_scene(a: TransposeArithmetic) -> ConvScene:
    cells, source = _transposed_cells(a)
    title = (f"transposed convolution: i' = {_x(a.i_prime)}, k = {_x(a.k)}, s = {_x(a.s)}, p = {_pairs(a.p)}"
             + (f", a = {_x(a.a)}" if any(a.a) else "") + (f", d = {_x(a.d)}" if any(d > 1 for d in a.d) else "")
             + f" -> o' = {_x(a.o_prime)}\nas a direct convolution: {_x(tuple(s - 1 for s in a.s))} zeros inserted, "
             f"padded by {_pairs(a.pad_widths)}, stride 1, flipped kernel")
    return ConvScene("transposed", cells, source, a.i_prime, a.o_prime, a.k, a.s_prime, a.d, True, title)


def scene_of(obj: Any) -> ConvScene:
    """The scene of a ConvScene, ConvGeometry, ConvTransposeGeometry or TransposeArithmetic (one channel drawn).

    Raises
    ------
    TypeError
        For anything else.

    Examples
    --------
    >>> from convmatrix import ConvTransposeGeometry
    >>> scene_of(ConvTransposeGeometry.from_weight_shape((1, 1, 3), 2, stride=2)).kind
    'transposed'
    """
    if isinstance(obj, ConvScene):
        return obj
    if isinstance(obj, TransposeArithmetic):
        return _transposed_scene(obj)
    if isinstance(obj, ConvTransposeGeometry):
        if obj.padding_mode != "zeros":
            raise InputValueError(f"padding_mode={obj.padding_mode!r}: a transposed convolution is drawn with zero "
                                  "padding only", "padding_mode")
        return _transposed_scene(TransposeArithmetic(obj.input_size, obj.kernel_size, obj.stride, obj.padding,
                                                     obj.output_padding, obj.dilation))
    if isinstance(obj, ConvGeometry):
        return conv_scene(obj.kernel_size, obj.input_size, stride=obj.stride, padding=obj.padding,
                          dilation=obj.dilation, padding_mode=obj.padding_mode)
    raise InputTypeError(f"scene must be a ConvScene, ConvGeometry, ConvTransposeGeometry or TransposeArithmetic, "
                         f"not a {type(obj).__name__}", "scene")



# --------------------------------------------------------------------------- drawing
class _Frame:
    """The artists of one scene in two axes; :meth:`show` moves them to a frame."""

    def __init__(self, scene: ConvScene, axes):
        from matplotlib.collections import PolyCollection

        self.scene = scene
        self.grid = montage_layout(scene.grid_size)
        self.out = montage_layout(scene.output_size)
        a_in, a_out = axes
        in_idx = np.indices(scene.grid_size).reshape(scene.ndim, -1)
        self.in_rc = self.grid.place(in_idx)
        faces = [CELL_COLORS[c] for c in scene.cells.reshape(-1)]
        a_in.add_collection(PolyCollection(_squares(*self.in_rc), facecolors=faces, edgecolors="#555",
                                           linewidths=0.6))
        self.kernel = PolyCollection(_squares(*self.in_rc), facecolors="none", edgecolors="none", linewidths=0)
        a_in.add_collection(self.kernel)
        self._labels(a_in)
        out_idx = np.indices(scene.output_size).reshape(scene.ndim, -1)
        self.out_rc = self.out.place(out_idx)
        self.outputs = PolyCollection(_squares(*self.out_rc), facecolors="white", edgecolors="#555", linewidths=0.6)
        a_out.add_collection(self.outputs)
        #: What moves from frame to frame.
        self.dynamic = [self.kernel, self.outputs]
        for a, m, names in ((a_in, self.grid, "input"), (a_out, self.out, "output")):
            _frame_axes(a, m)
            for label, (r0, c0) in zip(slice_labels(spatial_lead_names(scene.ndim), m.lead), m.origins):
                if m.lead and prod(m.lead) > 1:
                    a.text(c0 - 0.5, r0 - 0.6, label, fontsize=7, va="bottom")
        a_in.set_title("input" if scene.kind == "conv" else "stretched, padded input", fontsize=9)
        a_out.set_title("output", fontsize=9)

    def _labels(self, ax) -> None:
        """The number of the input pixel in every input and border cell (small grids)."""
        if self.scene.cells.size > 400:
            return
        for r, c, src, kind in zip(*self.in_rc, self.scene.source.reshape(-1), self.scene.cells.reshape(-1)):
            if src >= 0:
                ax.text(c, r, str(src), ha="center", va="center", fontsize=7,
                        color="white" if kind == INPUT else "#333")

    def show(self, frame: int) -> None:
        from matplotlib.colors import to_rgba

        cells, _ = self.scene.footprint(frame)
        flat = np.ravel_multi_index(cells.T, self.scene.grid_size)
        face = np.zeros((self.scene.cells.size, 4))
        face[flat] = to_rgba(KERNEL_COLOR, 0.55)
        edge = np.zeros((self.scene.cells.size, 4))
        edge[flat] = to_rgba(KERNEL_COLOR, 1.0)
        width = np.zeros(self.scene.cells.size)
        width[flat] = 1.8
        self.kernel.set_facecolor(face)
        self.kernel.set_edgecolor(edge)
        self.kernel.set_linewidth(width)
        out = np.array([to_rgba("white")] * self.scene.frames)
        out[:frame] = to_rgba(DONE_COLOR)
        out[frame] = to_rgba(OUTPUT_COLOR)
        self.outputs.set_facecolor(out)


def _squares(rows: np.ndarray, cols: np.ndarray) -> list:
    return [[(c - 0.5, r - 0.5), (c + 0.5, r - 0.5), (c + 0.5, r + 0.5), (c - 0.5, r + 0.5)]
            for r, c in zip(rows.tolist(), cols.tolist())]


def _frame_axes(ax, m) -> None:
    h, w = m.size
    ax.set_xlim(-0.7, w - 0.3)
    ax.set_ylim(h - 0.3, -0.7 - (0.8 if m.lead and prod(m.lead) > 1 else 0))
    ax.set_aspect("equal")
    ax.set_axis_off()


def _decorate(fig, scene: ConvScene) -> None:
    """The title (wrapped to the figure's width) and the legend of the cell kinds."""
    import textwrap

    from matplotlib.patches import Patch

    width = fig.get_size_inches()[0]
    lines = [part for line in scene.title.split("\n") for part in textwrap.wrap(line, int(width * 12.5))]
    fig.suptitle("\n".join(lines), fontsize=9)
    kinds = sorted(set(np.unique(scene.cells).tolist()))
    handles = [Patch(facecolor=CELL_COLORS[k], edgecolor="#555", label=CELL_NAMES[k]) for k in kinds]
    handles.append(Patch(facecolor=KERNEL_COLOR, alpha=0.55, label="kernel" + (" (flipped)" if scene.flipped else "")))
    per_row = max(2, int(width / 1.45))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), per_row), fontsize=7,
               frameon=False)


def _figure(scene: ConvScene, ax):
    grid, out = montage_layout(scene.grid_size), montage_layout(scene.output_size)
    width = grid.size[1] + out.size[1]
    height = max(grid.size[0], out.size[0])
    size = (float(np.clip(CELL_INCHES * width + 1.0, 4.6, 14)), float(np.clip(CELL_INCHES * height + 1.4, 2.4, 9)))
    fig, axes = axes_grid(ax, 2, size, width_ratios=[grid.size[1], out.size[1]])
    return fig, axes


def plot_conv_frame(scene: Any, frame: int = 0, *, ax=None):
    """One frame: the kernel's footprint over the (padded, stretched) input and the output position it makes.

    Parameters
    ----------
    scene : ConvScene, ConvGeometry, ConvTransposeGeometry or TransposeArithmetic
        See :func:`conv_scene` (a geometry's channels are not drawn).
    frame : int, optional
        The output position, flat in C order.
    ax : sequence of two Axes, optional
        For the input and the output.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        Without matplotlib (the ``plot`` extra).
    TypeError, ValueError
        For a bad scene or frame.

    Examples
    --------
    >>> fig = plot_conv_frame(conv_scene(3, (5, 5), stride=2, padding=1), 4)
    >>> [a.get_title() for a in fig.axes]
    ['input', 'output']
    """
    require_matplotlib("an animation frame")
    scene = scene_of(scene)
    frame = as_int(frame, "frame", minimum=0, maximum=scene.frames - 1)
    fig, axes = _figure(scene, ax)
    _Frame(scene, axes).show(frame)
    if ax is None:
        _decorate(fig, scene)
    return root_figure(axes[0])


def animate_conv(scene: Any, path: str | os.PathLike | None = None, *, fps: float = 2.0, dpi: float = 72):
    """All frames of a scene as a GIF (matplotlib's ``PillowWriter``), one per output position, looping.

    Parameters
    ----------
    scene : ConvScene, ConvGeometry, ConvTransposeGeometry or TransposeArithmetic
        See :func:`conv_scene`.
    path : str or os.PathLike, optional
        A ``.gif`` file, written whole or not at all; default: return the bytes.
    fps : float, optional
        Frames per second.
    dpi : float, optional
        Resolution (the figure is about :data:`CELL_INCHES` per cell).

    Returns
    -------
    pathlib.Path or bytes
        The file written, or the GIF's bytes.

    Raises
    ------
    ImportError
        Without matplotlib or pillow (the ``plot`` extra).
    TypeError, ValueError
        For a bad scene, more than :data:`MAX_FRAMES` frames, a path that is not
        a ``.gif`` in an existing folder, or ``fps``/``dpi`` that are not positive.

    Examples
    --------
    >>> data = animate_conv(conv_scene(3, 4, stride=1, padding=1), dpi=30)
    >>> data[:6]
    b'GIF89a'
    """
    matplotlib = require_matplotlib("an animation")
    try:
        import PIL  # noqa: F401  (PillowWriter needs it)
    except ImportError as exc:
        raise ImportError('an animation needs pillow, which is not installed: it comes with the plot extra, '
                          'pip install "convmatrix[plot]"') from exc
    scene = scene_of(scene)
    fps = as_real(fps, "fps", positive=True)
    dpi = as_real(dpi, "dpi", positive=True)
    if scene.frames > MAX_FRAMES:
        raise InputValueError(f"the output has {scene.frames} positions: an animation draws at most {MAX_FRAMES} "
                              "frames (take a smaller input)", "scene")
    target = None if path is None else _gif_path(path)
    from matplotlib.animation import PillowWriter

    fig, axes = _figure(scene, None)
    _decorate(fig, scene)
    drawn = _Frame(scene, axes)
    _freeze(fig, drawn.dynamic, dpi)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "animation.gif"
        writer = PillowWriter(fps=fps)
        with matplotlib.rc_context({"savefig.facecolor": "white"}), writer.saving(fig, str(out), dpi):
            for frame in range(scene.frames):
                drawn.show(frame)
                writer.grab_frame()
        data = out.read_bytes()
    if target is None:
        return data
    from .export.files import atomic_write

    with atomic_write(target) as fh:
        fh.write(data)
    return target


def _freeze(fig, dynamic: list, dpi: float) -> None:
    """Draw everything but the ``dynamic`` artists once, and keep that as the figure's background image.

    Text is most of a frame's drawing time; after this each frame draws one
    image and the moving collections, at the same pixels (the layout is fixed).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    for artist in dynamic:
        artist.set_visible(False)
    canvas.draw()
    fig.set_layout_engine("none")
    background = np.asarray(canvas.buffer_rgba()).copy()
    for artist in list(fig.texts) + list(fig.legends) + [c for a in fig.axes for c in a.get_children()]:
        if artist not in dynamic:
            artist.set_visible(False)
    fig.figimage(background, origin="upper", zorder=-1)
    for artist in dynamic:
        artist.set_visible(True)


def _gif_path(path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise InputTypeError(f"path must be a file name (a str or os.PathLike), not a {type(path).__name__}", "path")
    p = Path(path)
    if p.suffix.lower() != ".gif":
        raise InputValueError(f"path={str(p)!r} must end in .gif", "path")
    if not p.parent.exists():
        raise InputValueError(f"path={str(p)!r}: the folder {str(p.parent)!r} does not exist", "path")
    return p
