"""Export: pictures (PNG written with zlib only), file permissions, refusals."""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
import scipy.sparse as sp

import convmatrix as cm
from convmatrix.cli import main
from convmatrix.export import load_matrix, matrix_image, png_bytes, save_matrix
from convmatrix.export.png import DENSITY_DARK


def read_png(data: bytes) -> np.ndarray:
    """A deliberately small PNG reader (8-bit RGB or gray, filter 0, one or more IDAT chunks)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF
        if tag == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif tag == b"IDAT":
            idat += body
        pos += 12 + length
    w, h, depth, color = header[:4]
    assert depth == 8 and color in (0, 2)
    channels = 3 if color == 2 else 1
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 1 + w * channels)
    assert not raw[:, 0].any()  # filter type 0 on every row
    return raw[:, 1:].reshape(h, w, channels) if channels == 3 else raw[:, 1:]


def test_png_round_trip():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    assert np.array_equal(read_png(png_bytes(img)), img)
    gray = rng.integers(0, 256, size=(3, 4), dtype=np.uint8)
    assert np.array_equal(read_png(png_bytes(gray)), gray)


def test_small_matrix_picture_shows_signs_and_zeros():
    A = cm.conv_matrix(np.array([[[2, 0, -1]]]), 4, padding=1)  # 4 x 4, zeros not stored
    img = matrix_image(A, min_side=1)
    dense = A.toarray()
    assert img.shape == (4, 4, 3)
    assert np.all(img[dense == 0] == 255)
    assert np.all(img[dense > 0][:, 0] == 255) and np.all(img[dense > 0][:, 2] < 255)  # red
    assert np.all(img[dense < 0][:, 2] == 255) and np.all(img[dense < 0][:, 0] < 255)  # blue
    big = matrix_image(A)  # enlarged to at least 256 pixels, each entry a square
    assert big.shape == (256, 256, 3) and np.array_equal(big[::64, ::64], img)


def test_large_matrix_picture_is_its_pattern():
    A = cm.conv_matrix(np.ones((1, 1, 3, 3)), (64, 64), padding=1)  # 4096 x 4096
    img = matrix_image(A, max_side=512)
    assert img.shape == (512, 512, 3)
    # tiles of 8 x 8 entries: the band (offsets up to 65 entries, 9 tiles) is the only dark part
    rows, cols = np.nonzero(img[:, :, 0] < 255)
    assert np.all(np.abs(rows - cols) <= 9) and len(rows) > 512
    assert np.all(img[0, 100] == 255)


def test_symbolic_picture_and_refusals(tmp_path):
    S = cm.conv_matrix(cm.symbolic_weight((1, 1, 2)), 3)
    img = matrix_image(S, min_side=1)
    assert img.shape == (2, 3, 3) and (img != 255).any(axis=2).sum() == 4
    assert len({tuple(img[r, c]) for r, c in zip(*np.nonzero((img != 255).any(axis=2)))}) == 2  # two taps, two colours
    with pytest.raises(ValueError, match="symbolic matrix cannot be saved as numbers"):
        save_matrix(S, tmp_path / "s.npz")
    save_matrix(S, tmp_path / "s.png")
    with pytest.raises(ValueError, match="max_side"):
        matrix_image(np.eye(2), max_side=0)
    with pytest.raises(TypeError, match="dtype"):
        matrix_image(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="must end in one of .npz, .mtx, .npy$"):
        load_matrix(tmp_path / "s.png")


def test_saved_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        p = save_matrix(sp.eye_array(3, format="csr"), tmp_path / "a.npz")
    finally:
        os.umask(old)
    assert os.stat(p).st_mode & 0o777 == 0o644


def test_cli_saves_a_picture(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)  # the plain PNG, as without the plot extra
    path = tmp_path / "t.png"
    assert main(["transpose", "--kernel", "[[2, 3], [4, 5]]", "--input-size", "2,2", "--stride", "2",
                 "-o", str(path)]) == 0
    assert "saved" in capsys.readouterr().out
    img = read_png(path.read_bytes())
    T = cm.conv_transpose_matrix(np.array([[[[2, 3], [4, 5]]]]), (2, 2), stride=2)
    g = cm.ConvTransposeGeometry.from_weight_shape((1, 1, 2, 2), (2, 2), stride=2)
    assert np.array_equal(img, matrix_image(T, geometry=g))
    assert not list(tmp_path.glob(".*.tmp"))  # nothing left behind


def test_rewrites_keep_mode_and_follow_symlinks(tmp_path):
    p = tmp_path / "a.npy"
    save_matrix(np.eye(2), p)
    os.chmod(p, 0o600)
    save_matrix(np.eye(3), p)
    assert os.stat(p).st_mode & 0o777 == 0o600 and load_matrix(p).shape == (3, 3)
    link = tmp_path / "link.npy"
    link.symlink_to(p)
    save_matrix(np.eye(4), link)
    assert link.is_symlink() and load_matrix(p).shape == (4, 4)


def test_non_finite_entries_are_black_and_do_not_spoil_the_scale():
    img = matrix_image(np.array([[1.0, np.nan], [0.0, -2.0], [np.inf, 2.0]]), min_side=1)
    assert np.all(img[0, 1] == 0) and np.all(img[2, 0] == 0)
    assert img[2, 1].tolist() == [255, 0, 0] and img[1, 1].tolist() == [0, 0, 255]  # |±2| is the largest
    assert img[0, 0, 0] == 255 and 0 < img[0, 0, 1] < 255


def test_pattern_of_partial_tiles_and_csc():
    A = sp.csr_array(np.ones((1, 5000)))
    img = matrix_image(A, max_side=1000)
    assert img.shape == (1, 1000, 3) and np.all(img == DENSITY_DARK)  # fully dense: darkest, partial tile or not
    B = cm.conv_matrix(np.ones((1, 1, 3, 3)), (64, 64), padding=1)
    assert np.array_equal(matrix_image(B.tocsc(), max_side=512), matrix_image(B, max_side=512))
    with pytest.raises(ValueError, match="at least one pixel"):
        png_bytes(np.zeros((0, 3, 3), dtype=np.uint8))
