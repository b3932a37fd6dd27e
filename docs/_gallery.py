"""The pictures of the gallery page (docs/gallery.md), generated at build time.

The Sphinx configuration calls :func:`build` with ``docs/_generated/gallery``
before it reads the pages; stand-alone::

    python docs/_gallery.py docs/_generated/gallery

Every entry of :data:`GALLERY` is one file, made by one function that returns
a matplotlib figure (saved as PNG) or bytes (written as they are).  Nothing
here computes anything the package does not: each function calls the library.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

#: Where the gallery page looks for the pictures, relative to docs/.
OUTDIR = Path("_generated") / "gallery"
#: Resolution of the PNG files.
DPI = 110


def _rng():
    import numpy as np

    return np.random.default_rng(0)


def matrix_blocks():
    import convmatrix as cm
    from convmatrix.plot import plot_matrix

    w = _rng().integers(-3, 4, (4, 3, 3, 3))
    g = cm.ConvGeometry.from_weight_shape(w.shape, (5, 5), padding=1)
    return plot_matrix(cm.conv_matrix(w, (5, 5), padding=1), geometry=g,
                       title="Conv2d(3, 4, 3, padding=1) on 5 x 5: 4 x 3 channel blocks")


def matrix_taps():
    import convmatrix as cm
    from convmatrix.plot import plot_matrix

    shape = (2, 2, 2, 2)
    g = cm.ConvGeometry.from_weight_shape(shape, (3, 3))
    return plot_matrix(cm.conv_matrix(cm.symbolic_weight(shape), (3, 3)), geometry=g,
                       title="symbolic Conv2d(2, 2, 2) on 3 x 3: one colour per kernel entry")


def matrix_density():
    import convmatrix as cm
    from convmatrix.plot import plot_matrix

    w = _rng().standard_normal((32, 32, 3, 3)).astype("float32")
    g = cm.ConvGeometry.from_weight_shape(w.shape, (32, 32), padding=1)
    A = cm.conv_matrix(w, (32, 32), padding=1)
    return plot_matrix(A, geometry=g, title=f"Conv2d(32, 32, 3, padding=1) on 32 x 32: {A.nnz:,} entries, by density")


def matrix_transposed_value():
    import numpy as np

    import convmatrix as cm
    from convmatrix.plot import plot_matrix

    w = np.arange(1, 2 * 1 * 9 + 1).reshape(2, 1, 3, 3)
    tg = cm.ConvTransposeGeometry.from_weight_shape(w.shape, (3, 3), stride=2, padding=1)
    return plot_matrix(cm.conv_transpose_matrix(w, (3, 3), stride=2, padding=1), geometry=tg, color="tap",
                       title="ConvTranspose2d(2, 1, 3, stride=2, padding=1) on 3 x 3, by tap")


def receptive_field():
    import convmatrix as cm
    from convmatrix.plot import plot_receptive_field

    w = _rng().integers(1, 5, (2, 3, 3, 3))
    kw = dict(stride=2, padding=1, dilation=2)
    g = cm.ConvGeometry.from_weight_shape(w.shape, (8, 8), **kw)
    return plot_receptive_field(cm.conv_matrix(w, (8, 8), **kw), g, output=(1, 1, 2))


def output_footprint():
    import convmatrix as cm
    from convmatrix.plot import plot_receptive_field

    w = _rng().integers(1, 5, (1, 1, 3, 3))
    tg = cm.ConvTransposeGeometry.from_weight_shape(w.shape, (4, 4), stride=2)
    return plot_receptive_field(cm.conv_transpose_matrix(w, (4, 4), stride=2), tg, input=(0, 1, 2))


def overlap_stack():
    import convmatrix as cm
    from convmatrix.plot import plot_overlap

    g1 = cm.ConvTransposeGeometry.from_weight_shape((1, 1, 3, 3), (4, 4), stride=2)
    g2 = cm.ConvTransposeGeometry.from_weight_shape((1, 1, 3, 3), g1.output_size, stride=2)
    g3 = cm.ConvTransposeGeometry.from_weight_shape((1, 1, 4, 4), g2.output_size, stride=2, padding=1)
    return plot_overlap(cm.overlap_map([g1, g2, g3]))


def overlap_gradient_learned():
    import convmatrix as cm
    from convmatrix.plot import plot_overlap

    rng = _rng()
    g1 = cm.ConvGeometry.from_weight_shape((4, 1, 3, 3), (24, 24), stride=2, padding=1)
    g2 = cm.ConvGeometry.from_weight_shape((4, 4, 3, 3), g1.output_size, stride=2, padding=1)
    m = cm.overlap_map([g1, g2], weights=[rng.standard_normal((4, 1, 3, 3)), rng.standard_normal((4, 4, 3, 3))],
                       direction="gradient")
    return plot_overlap(m)


def chain():
    import convmatrix as cm
    from convmatrix.plot import plot_chain

    w = _rng().integers(-3, 4, (2, 1, 3, 3))
    return plot_chain(cm.transposed_conv_as_direct(w, (2, 2), stride=2, padding=1))


def reconstructions():
    import convmatrix as cm
    from convmatrix.plot import plot_reconstructions

    stack = cm.ZeilerStack([cm.ZeilerLayer(cm.filter_bank(7), "valid", cm.MaxPool(2, channel_pool=2)),
                            cm.ZeilerLayer(_rng().standard_normal((8, 4, 3, 3)) / 3, "valid")], (1, 32, 32))
    return plot_reconstructions(stack, cm.synthetic_scene(32)[None], lam=30.0, n_iter=60, maps=3)


def filters():
    import convmatrix as cm
    from convmatrix.plot import plot_filters

    stack = cm.ZeilerStack([cm.ZeilerLayer(cm.filter_bank(7), "valid", cm.MaxPool(2, channel_pool=2)),
                            cm.ZeilerLayer(_rng().standard_normal((8, 4, 3, 3)), "valid")], (1, 32, 32))
    return plot_filters(stack)


def jacobian():
    from convmatrix.plot import plot_batchnorm_jacobian

    return plot_batchnorm_jacobian(_rng().standard_normal(12), eps=1e-5)


def derivation():
    import convmatrix as cm
    from convmatrix.plot import plot_derivation

    return plot_derivation(cm.batchnorm_derivation(None), ["dgamma", "dbeta", "closed_form"])


def frame_conv():
    from convmatrix.animation import conv_scene, plot_conv_frame

    return plot_conv_frame(conv_scene(3, (5, 5), stride=2, padding=1, padding_mode="reflect"), 4)


def frame_3d():
    from convmatrix.animation import conv_scene, plot_conv_frame

    return plot_conv_frame(conv_scene(2, (3, 4, 4), stride=2, padding=1), 5)


def animation_conv() -> bytes:
    from convmatrix.animation import animate_conv, conv_scene

    return animate_conv(conv_scene(3, (5, 5), stride=2, padding=1), fps=2)


def animation_transposed() -> bytes:
    from convmatrix.animation import animate_conv, conv_scene

    return animate_conv(conv_scene(3, (3, 3), stride=2, padding=1, transposed=True, output_padding=1), fps=3)


def animation_dilated() -> bytes:
    from convmatrix.animation import animate_conv, conv_scene

    return animate_conv(conv_scene(3, (7, 7), dilation=2, padding=1), fps=3)


def plain_png() -> bytes:
    import numpy as np

    import convmatrix as cm
    from convmatrix.export.png import matrix_image, png_bytes

    w = np.arange(1, 2 * 2 * 4 + 1).reshape(2, 2, 2, 2)
    g = cm.ConvGeometry.from_weight_shape(w.shape, (3, 3))
    return png_bytes(matrix_image(cm.conv_matrix(w, (3, 3)), geometry=g))


#: ``(file, function)`` of every picture, in the page's order.
GALLERY = [
    ("matrix_blocks.png", matrix_blocks),
    ("matrix_taps.png", matrix_taps),
    ("matrix_transposed_taps.png", matrix_transposed_value),
    ("matrix_density.png", matrix_density),
    ("plain_png.png", plain_png),
    ("receptive_field.png", receptive_field),
    ("output_footprint.png", output_footprint),
    ("overlap_stack.png", overlap_stack),
    ("overlap_gradient_learned.png", overlap_gradient_learned),
    ("chain.png", chain),
    ("reconstructions.png", reconstructions),
    ("filters.png", filters),
    ("jacobian.png", jacobian),
    ("derivation.png", derivation),
    ("frame_reflect.png", frame_conv),
    ("frame_3d.png", frame_3d),
    ("animation_conv.gif", animation_conv),
    ("animation_transposed.gif", animation_transposed),
    ("animation_dilated.gif", animation_dilated),
]


def build(outdir: str | Path, only: list[str] | None = None, verbose: bool = False) -> list[Path]:
    """Write the gallery's files into ``outdir`` (created); ``only`` restricts to some file names.

    Returns the paths written.
    """
    from convmatrix.plot._mpl import figure_bytes

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in GALLERY:
        if only is not None and name not in only:
            continue
        start = time.perf_counter()
        result = make()
        data = result if isinstance(result, bytes) else figure_bytes(result, "png", dpi=DPI)
        path = outdir / name
        path.write_bytes(data)
        written.append(path)
        if verbose:
            print(f"{path} ({len(data) // 1024} kB, {time.perf_counter() - start:.1f} s)")
    return written


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) != 2:
        sys.exit("usage: python docs/_gallery.py OUTDIR")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    build(sys.argv[1], verbose=True)
