"""HTML summaries of result objects for notebooks: what :meth:`_repr_html_` shows.

Each renderer is registered in :data:`convmatrix.export.display.HTML` under its
class name; a summary is a title, a short table (shapes, stored entries,
dtype, geometry) and, for small matrices, the matrix as a grid with rules
between its channel blocks.  Nothing is computed that the object does not
already know or cannot count from its geometry; large matrices are never
built to be summarised.
"""

from __future__ import annotations

import html
from math import prod
from typing import Any, Iterable

import numpy as np
import scipy.sparse as sp

from .._validation import is_sympy_matrix
from ..geometry import ConvTransposeGeometry
from ..structure import pattern_nnz
from .display import HTML, register
from .layout import MatrixLayout, layout_of
from .text import GRID_LIMIT, summarize_matrix

__all__ = ["card", "matrix_html", "grid_html", "STYLE", "GRID_STYLE"]

#: Inline style of every summary (no stylesheet is assumed).
STYLE = "font-family: sans-serif; font-size: 12px; line-height: 1.3"
_CELL = "padding: 1px 4px; text-align: right; font-family: monospace"


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _tuple(t) -> str:
    return "(" + ", ".join(map(str, t)) + ")" if isinstance(t, tuple) else str(t)


def card(title: str, rows: Iterable[tuple[str, Any]], body: str = "") -> str:
    """A titled table of ``(name, value)`` rows, then ``body`` (already HTML).

    Examples
    --------
    >>> html = card("Example", [("shape", (2, 3))])
    >>> html.startswith("<div") and "<b>Example</b>" in html and "<td>(2, 3)</td>" in html
    True
    """
    cells = "".join(f"<tr><th style='text-align:left; padding-right: 8px'>{_esc(n)}</th><td>{_esc(_tuple(v))}</td></tr>"
                    for n, v in rows)
    return f"<div style='{STYLE}'><b>{_esc(title)}</b><table>{cells}</table>{body}</div>"


def _entry(v) -> str:
    if v == 0:
        return "<span class='z'>·</span>"
    if isinstance(v, (float, np.floating)):
        return _esc(f"{v:.4g}")
    return _esc(v)


def _dense(A):
    if is_sympy_matrix(A):
        return np.array(A.tolist(), dtype=object)
    return A.toarray() if sp.issparse(A) else np.asarray(A)


#: The grid's style, once per grid (classes keep the cells short): ``l``/``t`` are the block rules.
GRID_STYLE = ("<style>.cmx-grid{border-collapse:collapse;margin-top:4px}"
              ".cmx-grid td,.cmx-grid th{padding:1px 4px;text-align:right;font-family:monospace}"
              ".cmx-grid th{color:#888;font-weight:normal}.cmx-grid .z{color:#bbb}"
              ".cmx-grid .l{border-left:2px solid #000}.cmx-grid .t{border-top:2px solid #000}</style>")


def _cls(*names: str) -> str:
    names = [n for n in names if n]
    return f" class='{' '.join(names)}'" if names else ""


def grid_html(A, layout: MatrixLayout | None = None) -> str:
    """A small matrix as an HTML table: zeros as ``·``, rules between channel blocks, labelled headers.

    Hovering a header shows its ``(o, y, x)`` or ``(c, y, x)``.

    Examples
    --------
    >>> import numpy as np
    >>> grid_html(np.array([[1, 0]])).count("<td")
    2
    """
    dense = _dense(A)
    rows, cols = dense.shape
    rb = layout.row_block if layout else rows
    cb = layout.col_block if layout else cols
    left = ["l" if c and c % cb == 0 else "" for c in range(cols)]
    head = "".join(f"<th{_cls(left[c])} title='{_esc(layout.col_label(c)) if layout else c}'>{c}</th>"
                   for c in range(cols))
    body = []
    for r in range(rows):
        top = "t" if r and r % rb == 0 else ""
        label = _esc(layout.row_label(r)) if layout else r
        cells = "".join(f"<td{_cls(left[c], top)}>{_entry(dense[r, c])}</td>" for c in range(cols))
        body.append(f"<tr><th{_cls(top)} title='{label}'>{r}</th>{cells}</tr>")
    return f"{GRID_STYLE}<table class='cmx-grid'><tr><th></th>{head}</tr>{''.join(body)}</table>"


def matrix_html(A, layout: MatrixLayout | None = None, *, limit: tuple[int, int] = GRID_LIMIT) -> str:
    """The one-line summary of a matrix, its layout, and the grid when it is at most ``limit``.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> "3 x 3 float64 CSR matrix" in matrix_html(sp.eye_array(3, format="csr"))
    True
    """
    rows = [("matrix", summarize_matrix(A))]
    if layout is not None:
        rows.append(("rows", f"{layout.axis_label(0)}: {layout.row_channels} blocks of {layout.row_block}"))
        rows.append(("columns", f"{layout.axis_label(1)}: {layout.col_channels} blocks of {layout.col_block}"))
    small = A.shape[0] <= limit[0] and A.shape[1] <= limit[1]
    return card(type(A).__name__ if not sp.issparse(A) else f"scipy.sparse.{type(A).__name__}", rows,
                grid_html(A, layout) if small else "")


# --------------------------------------------------------------------------- renderers
def _geometry_rows(g) -> list:
    transposed = isinstance(g, ConvTransposeGeometry)
    conv = g.conv if transposed else g
    rows = [("input", (g.in_channels, *g.input_size)), ("output", (g.out_channels, *g.output_size)),
            ("kernel", g.kernel_size), ("stride", g.stride), ("padding", g.padding)]
    if transposed:
        rows.append(("output_padding", g.output_padding))
    rows += [("dilation", g.dilation), ("groups", g.groups), ("padding_mode", g.padding_mode),
             ("matrix", f"{g.shape[0]} x {g.shape[1]}, at most {pattern_nnz(conv):,} stored entries")]
    return rows


@register(HTML, "ConvGeometry")
def conv_geometry_html(g) -> str:
    """A convolution's sizes and parameters, and its matrix's shape and stored entries."""
    return card(f"ConvGeometry: weight {_tuple(g.weight_shape)}", _geometry_rows(g))


@register(HTML, "ConvTransposeGeometry")
def conv_transpose_geometry_html(g) -> str:
    """A transposed convolution's sizes and parameters; its matrix is the transpose of ``g.conv``'s."""
    weight = (g.in_channels, g.out_channels // g.groups, *g.kernel_size)
    return card(f"ConvTransposeGeometry: weight {_tuple(weight)}", _geometry_rows(g))


@register(HTML, "TapMap")
def tap_map_html(m) -> str:
    """The tap map's matrix shape and entries, and for small maps the grid of taps ``w_{o,c,i,j}``."""
    g = m.geometry
    rows = [("matrix", f"{m.shape[0]} x {m.shape[1]}{' (transposed)' if m.transposed else ''}, "
                       f"{m.nnz:,} stored entries"),
            ("weight", g.weight_shape), ("summed taps", "yes (padding mode " + g.padding_mode + ")"
                                          if m.has_duplicates else "no: one tap per entry")]
    body = ""
    if m.shape[0] <= GRID_LIMIT[0] and m.shape[1] <= GRID_LIMIT[1]:
        body = grid_html(_tap_labels(m), layout_of(m))
    return card("TapMap", rows + _geometry_rows(g)[:2], body)


def _tap_labels(m) -> np.ndarray:
    """An object array of ``w_{o,c,i,j}`` labels (``Σ`` for summed taps) of a small tap map."""
    g = m.geometry
    grid = np.zeros(m.shape, dtype=object)
    indptr, indices = m.indptr, m.indices
    rows = np.repeat(np.arange(m.shape[0]), np.diff(indptr))
    taps, starts = m.taps, m.starts
    firsts = taps if starts is None else taps[starts]
    runs = np.ones(indices.size, dtype=int) if starts is None else np.diff(np.append(starts, taps.size))
    for r, c, t, n in zip(rows, indices, firsts, runs):
        idx = np.unravel_index(int(t), g.weight_shape)
        grid[r, c] = "Σ" if n > 1 else "w" + ",".join(map(str, idx))
    return grid


@register(HTML, "TransposeArithmetic")
def transpose_arithmetic_html(a) -> str:
    """Dumoulin & Visin's terms: the transposed convolution and its equivalent direct one."""
    rows = [("i' (input)", a.i_prime), ("k, s, d", f"{a.k}, {a.s}, {a.d}"), ("p (lo, hi)", a.p),
            ("a (output_padding)", a.a), ("ĩ' = s (i' − 1) + 1", a.i_tilde_prime),
            ("p' = k̂ − 1 − p", a.p_prime), ("pad widths (p'_lo, p'_hi + a)", a.pad_widths),
            ("padded size", a.padded_size), ("k', s', d'", f"{a.k_prime}, {a.s_prime}, {a.d_prime}"),
            ("o' (output)", a.o_prime), ("relationship", a.relationship)]
    return card("TransposeArithmetic: a transposed convolution as a direct one", rows)


@register(HTML, "TransposedConvAsDirect")
def transposed_conv_as_direct_html(d) -> str:
    """The chain ``T = C P Z``: each factor's shape (``C`` counted, not built) and the kernels."""
    nz, ns, npd = (d.in_channels * prod(s) for s in (d.input_size, d.stretched_size, d.padded_size))
    rows_c = d.conv_geometry.shape[0]
    rows = [("T = C @ P @ Z", f"{d.shape[0]} x {d.shape[1]}"),
            ("Z (zero insertion)", f"{ns} x {nz}: {_tuple(d.input_size)} -> {_tuple(d.stretched_size)}"),
            ("P (padding)", f"{npd} x {ns}: widths {_tuple(d.pad_widths)} -> {_tuple(d.padded_size)}"),
            ("C (stride-1 conv)", f"{rows_c} x {npd}, {d.conv_nnz:,} stored entries"),
            ("transposed weight", d.transposed_weight.shape), ("direct weight (flipped, swapped)", d.weight.shape),
            ("groups", d.groups), ("dtype", "SymPy" if d.symbolic else d.weight.dtype)]
    return card("TransposedConvAsDirect", rows)


@register(HTML, "TransposeEquivalenceReport")
def transpose_report_html(r) -> str:
    """The verdict (green or red), the five matrices and the equivalent direct convolution."""
    color = "#2a2" if r.exact else "#c22"
    verdict = "EXACT" if r.exact else "NOT EQUAL"
    rows = [("max |difference|", f"{r.max_abs_difference:g}"),
            ("T", f"{r.shape[0]} x {r.shape[1]}, {r.nnz_transposed:,} stored entries"),
            ("Z", f"{r.zero_insertion_shape[0]} x {r.zero_insertion_shape[1]}"),
            ("P", f"{r.padding_shape[0]} x {r.padding_shape[1]}"),
            ("C", f"{r.conv_shape[0]} x {r.conv_shape[1]}, {r.conv_nnz:,} stored entries"),
            ("C @ P @ Z", f"{r.direct_shape[0]} x {r.direct_shape[1]}, {r.nnz_direct:,} stored entries"),
            ("literal product checked", r.literal_checked), ("seconds", f"{r.seconds:.3g}")]
    title = "transposed conv == C @ P @ Z: "
    return card(title, rows).replace(f"<b>{_esc(title)}</b>",
                                     f"<b>{_esc(title)}<span style='color:{color}'>{verdict}</span></b>", 1)


def _layer_table(header: list[str], rows: list[list]) -> str:
    th = "".join(f"<th style='{_CELL}; text-align:left'>{_esc(h)}</th>" for h in header)
    trs = "".join("<tr>" + "".join(f"<td style='{_CELL}; text-align:left'>{_esc(_tuple(v))}</td>" for v in row)
                  + "</tr>" for row in rows)
    return f"<table style='border-collapse: collapse'><tr>{th}</tr>{trs}</table>"


def _pool_text(pool) -> str:
    if pool is None:
        return "none"
    return f"{pool.channel_pool} x {_tuple(pool.kernel_size)}" + (" |·|" if pool.absolute else "")


@register(HTML, "ZeilerStack")
def zeiler_stack_html(s) -> str:
    """Zeiler's stack: per layer its filters, border, maps and pooling."""
    rows = [[l, layer.filters.shape, layer.border, s.input_shapes[l - 1], s.map_shapes[l - 1],
             _pool_text(layer.pool), s.pooled_shapes[l - 1] or "-"] for l, layer in enumerate(s.layers, start=1)]
    table = _layer_table(["l", "filters (K, C, *k)", "border", "input", "maps z_l", "pool", "pooled"], rows)
    return card(f"ZeilerStack: {s.depth} layers over an input {_tuple(s.input_shape)}",
                [("R_l", "F_1 U_s1 F_2 … F_l: maps of layer l -> image")], table)


@register(HTML, "ZeilerLayer")
def zeiler_layer_html(layer) -> str:
    """One layer: filters, border and pooling."""
    return card("ZeilerLayer", [("filters (K, C, *k)", layer.filters.shape), ("dtype", layer.filters.dtype),
                                ("border", layer.border), ("pool", _pool_text(layer.pool))])


@register(HTML, "DeconvNet")
def deconvnet_html(net) -> str:
    """The 2014 deconvnet: per layer its convolution and pooling."""
    rows = [[l, g.weight_shape, g.stride, g.padding, shape] for l, (g, shape) in
            enumerate(zip(net.geometries, net.output_shapes), start=1)]
    return card(f"DeconvNet over {_tuple(tuple(net.input_shape))}", [],
                _layer_table(["l", "weight", "stride", "padding (lo, hi)", "output (pooled)"], rows))


def _values(v) -> str:
    if v is None:
        return "-"
    v = np.asarray(v)
    text = np.array2string(v[:6], precision=4, separator=", ")
    return text if v.size <= 6 else text[:-1] + f", … ({v.size} values)]"


@register(HTML, "BatchNorm")
def batchnorm_html(bn) -> str:
    """Batch norm's parameters, mode and running statistics."""
    rows = [("num_features", bn.num_features), ("mode", "training" if bn.training else "eval"), ("eps", bn.eps),
            ("momentum", "cumulative average" if bn.momentum is None else bn.momentum),
            ("weight γ", _values(bn.weight)), ("bias β", _values(bn.bias)),
            ("running_mean", _values(bn.running_mean)), ("running_var", _values(bn.running_var)),
            ("num_batches_tracked", "-" if bn.num_batches_tracked is None else bn.num_batches_tracked)]
    return card("BatchNorm", rows)


@register(HTML, "InferenceResult")
def inference_html(res) -> str:
    """ISTA/FISTA's result: maps, sparsity, cost."""
    z = np.asarray(res.z)
    rows = [("z", f"shape {z.shape}, {np.count_nonzero(z) / max(z.size, 1):.1%} nonzero"),
            ("cost", f"{res.cost[0]:.6g} -> {res.cost[-1]:.6g} in {res.n_iter} iterations"),
            ("step", f"{res.step:.4g}"), ("L = λ‖R‖²", "-" if res.lipschitz is None else f"{res.lipschitz:.4g}")]
    return card("InferenceResult", rows)


@register(HTML, "OverlapMap")
def overlap_map_html(m) -> str:
    """Per layer its kind, kernel and stride, the map's range and the verdict."""
    rows = []
    for l, (g, mp, uneven) in enumerate(zip(m.layers, m.maps, m.uneven), start=1):
        kind = "transposed" if isinstance(g, ConvTransposeGeometry) else "conv"
        rows.append([l, kind, g.kernel_size, g.stride, mp.shape, f"{mp.min():g} … {mp.max():g}",
                     "uneven (checkerboard)" if uneven else "even"])
    what = "|M|𝟙 over each layer's output" if m.direction == "forward" else "|M|ᵀ𝟙 over the input"
    return card(f"OverlapMap ({m.direction}: {what}; {'learned kernels' if m.learned else 'unit kernels'})", [],
                _layer_table(["l", "layer", "kernel", "stride", "map", "range", "interior"], rows))


@register(HTML, "Derivation", "Step")
def derivation_html(d) -> str | None:
    """Nothing when the object has LaTeX (a notebook then shows the mathematics), else its steps as text."""
    if d._repr_latex_() is not None:
        return None
    text = d.text() if callable(getattr(d, "text", None)) else f"{d.text}\n    {d.lhs} = {d.rhs}"
    return f"<div style='{STYLE}'><pre>{_esc(text)}</pre></div>"
