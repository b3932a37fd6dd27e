"""Layer 5 — cheap bounds on a convolution layer's operator norm, scored against the exact value.

Every bound here is computed from the kernel and the geometry alone (no matrix
is built), and each record says whether it is *proved* to be at least
``‖A‖₂`` for the configuration at hand.  The proofs reduce every layer to a
circulant on some grid ``N`` (whose singular values are those of the
``C_out × C_in`` blocks ``K̂(ω) = Σ_t W_t e^{2πi ω·(t∘d)/N}``, Sedghi, Gupta &
Long 2019) times a matrix of known norm ``μ``:

* **zeros**: with ``N_a = n_a + max(lo_a, hi_a)`` the zero-padded stride-1
  layer is the circulant on ``N`` restricted to the columns of the input
  (placed at the start) and to the rows ``(i − lo) mod N``, once the rows that
  are zero anyway are dropped; so ``μ = 1``.  Proof, per axis: output ``i``
  reads input ``q = i − lo + t d`` for ``q ∈ [−lo, n + hi)``; the circulant reads
  ``q mod N``, which is ``q`` for ``0 ≤ q < n`` and lands in the empty tail
  ``[n, N)`` for ``−lo ≤ q < 0`` (needs ``N ≥ n + lo``) and for ``n ≤ q < n + hi``
  (needs ``N ≥ n + hi``).  Two outputs ``i`` and ``i + N`` that meet the same row
  are never both nonzero (that needs ``N ≤ n − 1 + lo − i`` with ``i ≥ 0``).
* **circular**: output ``i`` is row ``(i s − lo) mod n`` of the circulant on
  ``n``; rows can repeat (padding wider than ``d (k − 1)``, long strides), so
  ``μ = √(Π_a max multiplicity_a)``.
* **reflect, replicate**: ``A = V P`` with ``P`` the padding matrix (each
  column's count is how often a pixel is copied) and ``V`` the unpadded
  convolution of the padded size ``L = n + lo + hi``, a zeros case with no
  padding (``N = L``); ``‖P‖ = √(Π_a max copies_a)`` since ``PᵀP`` is diagonal.
* **stride**: a strided layer keeps rows of the stride-1 layer, so stride-1
  upper bounds stay upper bounds (the circular multiplicity counts the stride).
* **groups**: the layer is a direct sum of its groups' layers; every bound is
  the maximum over groups of the group's bound.
* **dilation**: ``K̂`` of the dilated kernel is ``K̂(d∘ω)`` of the plain one, so
  bounds on the whole torus (Fantastic Four, LipGrid) do not see it; the
  circulants use the dilated taps, wrapped modulo ``N``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import combinations
from math import pi, prod, sqrt
from typing import Any

import numpy as np

from ._display import Displayable
from ._limits import as_max_bytes, guard_bytes
from ._validation import as_int, as_real
from .geometry import ConvGeometry, IntOrTuple, Padding
from .spectra import real_layer

__all__ = ["SpectralNormBound", "SpectralNormReport", "spectral_norm_bounds", "spectral_norm_report",
           "LIPGRID_SAMPLES", "CITATIONS"]

#: Frequencies per axis of LipGrid's grid (Araujo et al.'s default ``sample=50``).
LIPGRID_SAMPLES = 50

#: Short references, one per bound.
CITATIONS = {
    "gram": "Delattre, Barthélemy, Araujo & Allauzen, ICML 2023",
    "fantastic four": "Singla & Feizi, ICLR 2021",
    "lipgrid": "Araujo, Negrevergne, Chevaleyre & Atif, AAAI 2021",
    "circulant": "Sedghi, Gupta & Long, ICLR 2019",
    "torch": "Miyato, Kataoka, Koyama & Yoshida, ICLR 2018 (torch.nn.utils.spectral_norm)",
}


# --------------------------------------------------------------------------- records
@dataclass(frozen=True)
class SpectralNormBound(Displayable):
    """One cheap bound (or estimate) of a layer's operator norm.

    Attributes
    ----------
    name : str
    value : float
    is_upper_bound : bool
        ``True`` only where the value is proved to be at least the operator
        norm for this configuration (padding mode, stride, dilation, groups,
        input size); see :mod:`convmatrix.bounds` for the proofs.
    citation : str
        Authors, venue, year.
    note : str
        One line: why it is or is not an upper bound here.

    Examples
    --------
    >>> b = SpectralNormBound("x", 2.0, True, "A & B, 2020", "proved")
    >>> print(b)
    x = 2 (upper bound): proved [A & B, 2020]
    """

    name: str
    value: float
    is_upper_bound: bool
    citation: str
    note: str

    def __str__(self) -> str:
        kind = "upper bound" if self.is_upper_bound else "estimate"
        return f"{self.name} = {self.value:.6g} ({kind}): {self.note} [{self.citation}]"


@dataclass(frozen=True)
class SpectralNormReport(Displayable):
    """Every bound of a layer beside its exact norm; made by :func:`spectral_norm_report`.

    Attributes
    ----------
    exact : float
        The operator norm ``‖A‖₂``.
    bounds : tuple of SpectralNormBound
    layer : str
        The configuration, in words.

    Examples
    --------
    >>> r = SpectralNormReport(2.0, (SpectralNormBound("x", 3.0, True, "A, 2020", "proved"),), "a layer")
    >>> r.ratios
    (1.5,)
    >>> print(r)
    a layer: exact operator norm 2
    bound  value  ratio  upper bound
    -----  -----  -----  -----------
    x          3  1.500          yes
    """

    exact: float
    bounds: tuple
    layer: str = ""

    @property
    def ratios(self) -> tuple:
        """``value / exact`` per bound (``inf`` for a nonzero value over a zero norm, ``1`` for 0/0)."""
        return tuple(_ratio(b.value, self.exact) for b in self.bounds)

    @property
    def violations(self) -> tuple:
        """Names of the bounds claimed to be upper bounds that are below the exact norm (beyond rounding)."""
        return tuple(b.name for b in self.bounds
                     if b.is_upper_bound and b.value < self.exact * (1 - 1e-9) - 1e-300)

    def rows(self) -> list:
        """``[name, value, ratio, is_upper_bound]`` per bound."""
        return [[b.name, b.value, r, b.is_upper_bound] for b, r in zip(self.bounds, self.ratios)]

    def __str__(self) -> str:
        head = ["bound", "value", "ratio", "upper bound"]
        body = [[n, f"{v:.6g}", f"{r:.3f}", "yes" if u else "no"] for n, v, r, u in self.rows()]
        widths = [max(len(row[i]) for row in [head] + body) for i in range(4)]
        line = lambda row: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                     for i, (c, w) in enumerate(zip(row, widths))).rstrip()
        title = f"{self.layer}: " if self.layer else ""
        out = [f"{title}exact operator norm {self.exact:.6g}", line(head), line(["-" * w for w in widths])]
        return "\n".join(out + [line(row) for row in body])


def _ratio(value: float, exact: float) -> float:
    if exact == 0:
        return 1.0 if value == 0 else float("inf")
    return value / exact


# --------------------------------------------------------------------------- geometry of the reductions
def _pad_map(n: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """Input index of every padded position (``-1`` for a zero)."""
    if mode == "zeros":
        return np.concatenate([np.full(lo, -1), np.arange(n), np.full(hi, -1)])
    return np.pad(np.arange(n), (lo, hi), mode={"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode])


@dataclass(frozen=True)
class _Reduction:
    grid: tuple          # N: the circulant's grid
    mu: float            # ‖A‖ ≤ mu ‖C_N‖
    overlap: int         # max over input pixels of the (output, tap) pairs reading it
    why: str             # how the layer sits in the circulant, for the notes


def _reduction(g: ConvGeometry) -> _Reduction:
    grid, mu2, overlap = [], 1, 1
    for n, k, s, (lo, hi), d, o in zip(g.input_size, g.kernel_size, g.stride, g.padding, g.dilation,
                                       g.output_size):
        idx = _pad_map(n, lo, hi, g.padding_mode)
        taps = idx[(np.arange(o)[:, None] * s + np.arange(k)[None, :] * d).reshape(-1)]
        overlap *= int(np.bincount(taps[taps >= 0], minlength=n).max())
        if g.padding_mode == "zeros":
            grid.append(n + max(lo, hi))
        elif g.padding_mode == "circular":
            grid.append(n)
            mu2 *= int(np.bincount((np.arange(o) * s - lo) % n, minlength=n).max())
        else:
            grid.append(n + lo + hi)
            mu2 *= int(np.bincount(idx, minlength=n).max())
    why = {"zeros": "a submatrix of the circulant on n + max(lo, hi)",
           "circular": "rows of the circulant on n" + (f", repeated (x sqrt({mu2}))" if mu2 > 1 else ""),
           }.get(g.padding_mode, f"the unpadded conv on n + lo + hi times the {g.padding_mode} padding matrix "
                                 f"(norm sqrt({mu2}))")
    return _Reduction(tuple(grid), sqrt(mu2), overlap, why)


def _reduction_bytes(g: ConvGeometry) -> int:
    """Bytes of the per-axis index arrays of :func:`_reduction`."""
    return 8 * sum(3 * (n + lo + hi) + 2 * o * k for n, k, (lo, hi), o in
                   zip(g.input_size, g.kernel_size, g.padding, g.output_size))


# --------------------------------------------------------------------------- circulant blocks
def _blocks(wg: np.ndarray, grid: tuple, dilation: tuple, max_bytes) -> np.ndarray:
    """``K̂(ω)`` of every group on the half spectrum of ``grid``: shape ``(groups * F, rows, cols)``, rows ≥ cols.

    The dilated taps are placed at ``t d mod N`` (taps that meet are summed);
    ``ω`` and ``−ω`` give conjugate blocks of a real kernel, so the half spectrum
    (``rfftn``) holds every singular value's block once.
    """
    groups, co, ci = wg.shape[:3]
    nd = len(grid)
    # along an axis with one tap the symbol does not depend on the frequency: one frequency holds every block
    grid = tuple(1 if k == 1 else N for k, N in zip(wg.shape[3:], grid))
    F = prod(grid[:-1]) * (grid[-1] // 2 + 1)
    guard_bytes(groups * co * ci * (8 * prod(grid) + 32 * F), max_bytes,
                what=f"the {groups * F:,} frequency blocks of {co} x {ci} on the grid {grid}")
    spatial = np.zeros((groups, co, ci) + tuple(grid))
    for t in np.ndindex(*wg.shape[3:]):
        pos = tuple(ti * d % N for ti, d, N in zip(t, dilation, grid))
        spatial[(slice(None),) * 3 + pos] += wg[(slice(None),) * 3 + t]
    spectrum = np.fft.rfftn(spatial, axes=tuple(range(3, 3 + nd)))
    del spatial
    blocks = np.moveaxis(spectrum.reshape(groups, co, ci, F), 3, 1).reshape(groups * F, co, ci)
    # contiguous blocks: numpy's stacked matmul calls BLAS only on unit-stride matrices
    return np.ascontiguousarray(blocks if co >= ci else np.conj(np.swapaxes(blocks, 1, 2)))


def _chunks(count: int, per_item: int, budget: int = 1 << 26):
    step = max(1, budget // max(per_item, 1))
    return [slice(i, min(i + step, count)) for i in range(0, count, step)]


def _gram_step(X: np.ndarray, Y: np.ndarray, hermitian: bool) -> tuple:
    """``GᴴG`` for the stacked blocks ``G = X + iY``, in real arithmetic (numpy's stacked complex matmul has no BLAS).

    For a Hermitian ``G`` (every step after the first) ``GᴴG = G² = (P² − Q²) + i(PQ − (PQ)ᵀ)``
    with ``P = X`` symmetric and ``Q = Y`` antisymmetric: three products instead of four.
    """
    if hermitian:
        PQ = X @ Y
        return X @ X - Y @ Y, PQ - np.swapaxes(PQ, 1, 2)
    Xt, Yt = np.swapaxes(X, 1, 2), np.swapaxes(Y, 1, 2)
    return Xt @ X + Yt @ Y, Xt @ Y - Yt @ X


def _gram_iteration(blocks: np.ndarray, n_iter: int) -> tuple:
    """``(Gram bound after n_iter steps, exact max_ω ‖K̂(ω)‖₂)`` over stacked blocks (rows ≥ cols).

    Gram iteration (Delattre et al. 2023, Algorithm 3) on each block: ``G₀ = K̂``,
    ``G_{t+1} = G_tᴴ G_t``, so ``‖K̂‖₂ ≤ u_t = ‖G_t‖_F^{1/2^t}``, non-increasing in ``t``.
    Each step divides ``G_t`` by its Frobenius norm and keeps the log of the
    scale, ``log c_{t+1} = 2 (log c_t + log ‖G_t‖_F)``, so no power overflows:
    ``u_t = exp((log c_t + log ‖G_t‖_F) / 2^t)``.

    The same steps find the exact norm cheaply: ``‖G_t‖_F² ≤ rank · σ^{2^{t+1}}``
    gives ``l_t = u_t / cols^{1/2^{t+1}} ≤ ‖K̂‖₂``, so a block whose ``u_t`` is below
    the largest ``l_t`` can be the maximum of neither the norm nor any later
    bound; it is dropped, and the survivors' Gram matrices get exact eigenvalues.
    """
    cols = blocks.shape[2]
    alive = np.arange(len(blocks))
    X, Y = np.ascontiguousarray(blocks.real), np.ascontiguousarray(blocks.imag)
    log_c = np.zeros(len(blocks))
    gram_bound = None
    t = 0
    with np.errstate(divide="ignore"):
        while True:
            norm = np.sqrt((X * X).sum(axis=(1, 2)) + (Y * Y).sum(axis=(1, 2)))
            log_u = (log_c + np.log(norm)) / 2.0 ** t
            if t == n_iter:
                gram_bound = float(np.exp(log_u.max())) if len(log_u) else 0.0
            keep = log_u >= (log_u - np.log(cols) / 2.0 ** (t + 1)).max() - 1e-12
            alive, X, Y, log_c, norm = alive[keep], X[keep], Y[keep], log_c[keep], norm[keep]
            if t >= n_iter and (len(alive) <= 4 or t >= n_iter + 4):
                break
            norm[norm == 0] = 1.0
            X, Y = X / norm[:, None, None], Y / norm[:, None, None]
            log_c = 2 * (log_c + np.log(norm))
            X, Y = _gram_step(X, Y, hermitian=t > 0)
            t += 1
    exact = 0.0
    for c in _chunks(len(alive), 48 * cols * cols):
        b = blocks[alive[c]]
        P, Q = _gram_step(b.real, b.imag, hermitian=False)
        exact = max(exact, float(np.linalg.eigvalsh(P + 1j * Q)[:, -1].max()))
    return gram_bound, sqrt(max(exact, 0.0))


# --------------------------------------------------------------------------- kernel-only bounds
def _norm2(M: np.ndarray) -> float:
    """The spectral norm of a real matrix, from the eigenvalues of its small-side Gram matrix."""
    G = M @ M.T if M.shape[0] <= M.shape[1] else M.T @ M
    return sqrt(max(float(np.linalg.eigvalsh(G)[-1]), 0.0))


def _fantastic_four(wg: np.ndarray) -> float:
    """``√(Π k) · min_R ‖W_R‖₂`` over the ``2^N`` ways of putting a subset ``R`` of the spatial axes with C_out.

    In 2-D the four reshapes of Singla & Feizi.  Proof (any N): on the torus
    ``K̂(ω) = Σ_t W_t z_t`` with ``z = ⊗_a u_a`` (``|u_a,j| = 1``), so ``K̂(ω) =
    (z_Rᵀ ⊗ I) W_R (z_{R^c} ⊗ I)`` and ``‖z_R ⊗ I‖ = √(Π_{a∈R} k_a)``.
    """
    nd = wg.ndim - 3
    k = wg.shape[3:]
    big = [a for a in range(nd) if k[a] > 1]  # a one-tap axis gives the same matrix on either side
    best = np.inf
    for r in range(len(big) + 1):
        for rows in combinations(big, r):
            cols = [a for a in range(nd) if a not in rows]
            perm = [0, 1] + [3 + a for a in rows] + [2] + [3 + a for a in cols]
            shape = (wg.shape[0], wg.shape[1] * prod(k[a] for a in rows), -1)
            value = max(_norm2(Wg) for Wg in np.transpose(wg, perm).reshape(shape))
            best = min(best, value)
    return sqrt(prod(k)) * best


def _lipgrid(wg: np.ndarray, samples: int, max_bytes) -> float:
    """``max`` over the grid ``(2π j / samples)^N`` of ``max_g ‖K̂_g(ω)‖_F`` (undilated kernel).

    ``‖K̂(ω)‖_F² = Σ_Δ R(Δ) e^{−iω·Δ}`` with ``R`` the kernel's autocorrelation
    summed over channel pairs (support ``2k − 1``): one small FFT per group.
    """
    k = wg.shape[3:]
    nd = len(k)
    full = tuple(2 * ki - 1 for ki in k)
    guard_bytes(16 * (wg.shape[1] * wg.shape[2] * prod(full) + samples ** nd), max_bytes,
                what=f"LipGrid's grid of {samples}^{nd} frequencies")
    axes = tuple(range(1, 1 + nd))
    best = 0.0
    for w in wg:  # one group: (co, ci, *k)
        flat = w.reshape((-1,) + k)
        power = np.zeros(full)
        for c in _chunks(len(flat), 16 * prod(full)):
            power += (np.abs(np.fft.fftn(flat[c], s=full, axes=axes)) ** 2).sum(axis=0)
        R = np.real(np.fft.ifftn(power))  # R[j]: lag j (j < k) or j - (2k - 1)
        lags = [np.where(np.arange(f) < ki, np.arange(f), np.arange(f) - f) % samples for f, ki in zip(full, k)]
        folded = np.zeros((samples,) * nd)
        np.add.at(folded, np.ix_(*lags), R)
        best = max(best, float(np.real(np.fft.fftn(folded)).max()))
    return sqrt(max(best, 0.0))


# --------------------------------------------------------------------------- the bounds
def _layer(weight, input_size, stride, padding, dilation, groups, padding_mode):
    """The weight, checked as :func:`convmatrix.spectrum` checks it, as float64 blocks per group, and the geometry."""
    w, g = real_layer(weight, input_size, stride, padding, dilation, groups, padding_mode)
    wg = w.astype(np.float64).reshape((g.groups, g.out_channels_per_group) + w.shape[1:])
    return wg, g


def _describe(g: ConvGeometry) -> str:
    pads = ",".join(f"{lo}" if lo == hi else f"({lo},{hi})" for lo, hi in g.padding)
    size = "x".join(map(str, g.input_size))
    parts = [f"{g.in_channels}->{g.out_channels} {'x'.join(map(str, g.kernel_size))} on {size}",
             f"{g.padding_mode} padding {pads}"]
    if any(s != 1 for s in g.stride):
        parts.append(f"stride {','.join(map(str, g.stride))}")
    if any(d != 1 for d in g.dilation):
        parts.append(f"dilation {','.join(map(str, g.dilation))}")
    if g.groups != 1:
        parts.append(f"groups {g.groups}")
    return ", ".join(parts)


def spectral_norm_bounds(
    weight: Any,
    input_size: IntOrTuple,
    *,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    n_iter: int = 6,
    max_bytes: int | None = None,
) -> list:
    """Cheap bounds and estimates of a convolution layer's operator norm, each saying whether it is proved here.

    No matrix is built: everything comes from the kernel, by FFTs of size
    about the input.  Records, in order:

    1. ``Gram iteration``: ``n_iter`` rescaled Gram steps on each block of the
       circulant that contains the layer (grid ``n + max(lo, hi)`` for zeros,
       ``n`` for circular, ``n + lo + hi`` for reflect/replicate), times that
       reduction's factor ``μ``: an upper bound at every iteration.
    2. ``circulant (enlarged grid)``: the same circulant's exact norm times
       ``μ``: an upper bound, exact for circular padding, stride 1 and output
       size = input size.
    3. ``circular at input size``: the exact norm of the circular layer on the
       input size (Sedghi et al.): an estimate for the other modes, an upper
       bound only where the enlarged grid is the input size and ``μ = 1``.
    4. ``Fantastic Four``: ``√(Π k) · min`` of the norms of the ``2^N``
       reshapes of the kernel (the four of Singla & Feizi in 2-D), times ``μ``.
    5. ``LipGrid``: the largest Frobenius norm of ``K̂(ω)`` on a grid of
       :data:`LIPGRID_SAMPLES` frequencies per axis, times the paper's factor
       ``1/(1 − 2d/n)`` (``d = max (k − 1)/2``) and ``μ``; proved where that
       factor is at least ``1/(1 − ½(π Σ_a (k_a − 1)/(2n))²)``, a bound this
       module proves by Bernstein's inequality applied twice.
    6. ``torch reshape``: ``‖W.reshape(C_out, −1)‖₂``, what
       ``torch.nn.utils.spectral_norm`` divides by: an upper bound only when no
       input pixel is read twice.
    7. ``torch reshape x sqrt(overlap)``: the group's reshape norm times the
       square root of the largest number of (output, tap) pairs that read one
       input pixel: an upper bound for every configuration
       (``‖A x‖² = Σ_p ‖W x_p‖² ≤ ‖W‖² Σ_p ‖x_p‖² ≤ ‖W‖² · overlap · ‖x‖²``).

    Parameters
    ----------
    weight : array_like, shape (C_out, C_in/groups, *kernel_size)
        Real numbers.
    input_size, stride, padding, dilation, groups, padding_mode
        As :func:`convmatrix.conv_matrix`.
    n_iter : int, optional
        Gram iterations (6, as the authors' training runs; 0 gives the
        Frobenius norm of the blocks).  At most 64.
    max_bytes : int, optional
        Refuse working arrays larger than this (default as :func:`convmatrix.conv_matrix`).

    Returns
    -------
    list of SpectralNormBound

    Raises
    ------
    TypeError, ValueError
        On bad parameters, naming the parameter (validated as :func:`convmatrix.conv_matrix`).
    MatrixTooLargeError
        When the frequency blocks would exceed ``max_bytes``.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.random.default_rng(0).standard_normal((4, 3, 3, 3))
    >>> for b in spectral_norm_bounds(w, (8, 8), padding=1):
    ...     print(f"{b.name:32} {b.value:7.4f} {b.is_upper_bound}")
    Gram iteration                    9.4155 True
    circulant (enlarged grid)         9.4155 True
    circular at input size            9.3241 False
    Fantastic Four                   15.8761 True
    LipGrid                          12.2554 True
    torch reshape                     5.9175 False
    torch reshape x sqrt(overlap)    17.7526 True
    >>> import convmatrix as cm
    >>> round(float(np.linalg.norm(cm.conv_matrix(w, (8, 8), padding=1).toarray(), 2)), 4)
    9.0655
    """
    wg, g = _layer(weight, input_size, stride, padding, dilation, groups, padding_mode)
    n_iter = as_int(n_iter, "n_iter", minimum=0, maximum=64)
    # every bound is positively homogeneous in the weight: an extreme kernel is scaled by a power of two
    # (exact), so that no square underflows or overflows, and the values scaled back
    top = float(np.max(np.abs(wg))) if wg.size else 0.0
    exponent = int(np.frexp(top)[1]) if top and not 2.0**-64 <= top <= 2.0**64 else 0
    if exponent:
        wg = np.ldexp(wg, -exponent)
    out = _bounds(wg, g, n_iter, max_bytes)
    if exponent:
        out = [replace(b, value=float(np.ldexp(b.value, exponent))) for b in out]
    return out


def _bounds(wg: np.ndarray, g: ConvGeometry, n_iter: int, max_bytes) -> list:
    """The records of :func:`spectral_norm_bounds` for checked arguments."""
    as_max_bytes(max_bytes)
    guard_bytes(_reduction_bytes(g), max_bytes, what=f"the index maps of the input size {g.input_size}")
    red = _reduction(g)
    mode, n = g.padding_mode, g.input_size
    times = "" if red.mu == 1 else f" x {red.mu:.4g}"
    blocks = _blocks(wg, red.grid, g.dilation, max_bytes)
    gram, C_N = _gram_iteration(blocks, n_iter)
    del blocks
    same = red.grid == n
    if same:
        C_n = C_N
    else:
        C_n = _gram_iteration(_blocks(wg, n, g.dilation, max_bytes), 0)[1]
    out = [SpectralNormBound(
        "Gram iteration", red.mu * gram, True, CITATIONS["gram"],
        f"{n_iter} rescaled Gram steps on the blocks of the circulant on {red.grid}{times}: the layer is "
        f"{red.why}")]
    exact_here = mode == "circular" and red.mu == 1 and all(s == 1 for s in g.stride) and g.output_size == n
    out.append(SpectralNormBound(
        "circulant (enlarged grid)", red.mu * C_N, True, CITATIONS["circulant"],
        ("exact: the layer is the circulant on its input size" if exact_here else
         f"the exact norm of the circulant on {red.grid}{times}: the layer is {red.why}")))
    proved = same and red.mu == 1
    out.append(SpectralNormBound(
        "circular at input size", C_n, proved, CITATIONS["circulant"],
        "exact" if exact_here else
        ("the layer is " + red.why if proved else
         f"an estimate: the circular layer's norm, not proved to bound {mode} padding at this size")))
    out.append(SpectralNormBound(
        "Fantastic Four", red.mu * max(_fantastic_four(wg[i:i + 1]) for i in range(len(wg))), True,
        CITATIONS["fantastic four"],
        f"sqrt(prod k) x min of the {2 ** sum(k > 1 for k in g.kernel_size)} kernel reshapes' norms bounds the symbol on the whole torus"
        f"{times}"))
    samples = LIPGRID_SAMPLES
    d = max(g.kernel_size) - 1  # 2 d in the paper's notation
    alpha_paper = 1 / (1 - d / samples) if d < samples else float("inf")
    x = pi * sum(k - 1 for k in g.kernel_size) / (2 * samples)
    alpha_proved = 1 / (1 - x * x / 2) if x * x < 2 else float("inf")
    lipgrid = red.mu * alpha_paper * _lipgrid(wg, samples, max_bytes)
    ok = alpha_paper >= alpha_proved and alpha_paper != float("inf")
    out.append(SpectralNormBound(
        "LipGrid", lipgrid, ok, CITATIONS["lipgrid"],
        f"max of ||K(w)||_F on {samples}^{g.ndim} frequencies x 1/(1 - 2d/n) = {alpha_paper:.4g}{times}: "
        + ("at least the proved factor " if ok else "below the factor proved here, ")
        + f"1/(1 - (pi sum(k-1)/2n)^2/2) = {alpha_proved:.4g}"))
    W = wg.reshape(g.out_channels, -1)
    torch_value = _norm2(W)
    out.append(SpectralNormBound(
        "torch reshape", torch_value, red.overlap == 1, CITATIONS["torch"],
        "no input pixel is read twice, so the layer is a direct sum of copies of W" if red.overlap == 1 else
        f"||W.reshape(C_out, -1)||: ignores that up to {red.overlap} (output, tap) pairs read one pixel"))
    per_group = max(_norm2(Wg.reshape(Wg.shape[0], -1)) for Wg in wg)
    out.append(SpectralNormBound(
        "torch reshape x sqrt(overlap)", sqrt(red.overlap) * per_group, True, CITATIONS["torch"],
        f"||A x||^2 = sum over outputs of ||W x_p||^2 <= ||W||^2 x {red.overlap} x ||x||^2"))
    return out


def spectral_norm_report(
    weight: Any,
    input_size: IntOrTuple,
    *,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    n_iter: int = 6,
    exact: float | None = None,
    max_bytes: int | None = None,
) -> SpectralNormReport:
    """Score every bound of :func:`spectral_norm_bounds` against the layer's exact operator norm.

    Parameters
    ----------
    weight, input_size, stride, padding, dilation, groups, padding_mode, n_iter, max_bytes
        As :func:`spectral_norm_bounds`.
    exact : float, optional
        The exact norm if known; by default :func:`convmatrix.spectral_norm` computes it.

    Returns
    -------
    SpectralNormReport
        Its ``str`` is the table: value, ratio to the exact norm, and whether
        the bound is proved for this layer.

    Raises
    ------
    TypeError, ValueError, MatrixTooLargeError
        As :func:`spectral_norm_bounds`; ``exact`` must be a finite non-negative number.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.random.default_rng(0).standard_normal((4, 3, 3, 3))
    >>> r = spectral_norm_report(w, (8, 8), padding=1)
    >>> round(r.exact, 4), r.violations
    (9.0655, ())
    >>> print(str(r).splitlines()[0])
    3->4 3x3 on 8x8, zeros padding 1,1: exact operator norm 9.06546
    """
    bounds = spectral_norm_bounds(weight, input_size, stride=stride, padding=padding, dilation=dilation,
                                  groups=groups, padding_mode=padding_mode, n_iter=n_iter, max_bytes=max_bytes)
    _, g = _layer(weight, input_size, stride, padding, dilation, groups, padding_mode)
    if exact is None:
        from .spectra import spectral_norm

        exact = spectral_norm(weight, input_size, stride=stride, padding=padding, dilation=dilation, groups=groups,
                              padding_mode=padding_mode, max_bytes=max_bytes)
    exact = as_real(exact, "exact")
    return SpectralNormReport(float(exact), tuple(bounds), _describe(g))
