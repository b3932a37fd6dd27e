"""``convmatrix spectrum`` and the tour's section on it: numbers checked against dense SVD."""

from __future__ import annotations

import re

import numpy as np
import pytest

import convmatrix as cm
from convmatrix.cli import main


def _random_weight(shape, seed=0):
    return np.random.default_rng(seed).integers(-3, 4, size=shape)  # what --random draws


def _norm_printed(out: str) -> float:
    return float(re.search(r"spectral norm \(Lipschitz constant\), exact: (\S+)", out).group(1))


@pytest.mark.parametrize("mode", ["zeros", "circular", "reflect", "replicate"])
def test_the_printed_norm_and_values_are_dense_svd(mode, capsys):
    argv = ["spectrum", "--random", "3,2,3,3", "--input-size", "6,6", "--padding", "1", "--padding-mode", mode,
            "--k", "4"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    A = cm.conv_matrix(_random_weight((3, 2, 3, 3)), (6, 6), padding=1, padding_mode=mode).toarray()
    s = np.linalg.svd(A, compute_uv=False)
    assert _norm_printed(out) == pytest.approx(s[0], rel=1e-9)
    printed = [float(v) for v in out.splitlines()[2].split(",")]
    assert printed == pytest.approx(s[:4], rel=1e-5)
    assert "Gram iteration" in out and "torch reshape" in out and "/ exact" in out


def test_all_values_smallest_and_saved(tmp_path, capsys):
    path = tmp_path / "s.txt"
    argv = ["spectrum", "--kernel", "[[1, 2], [3, 4]]", "--input-size", "4,4", "--stride", "2", "--k", "all",
            "-o", str(path), "--no-bounds"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    A = cm.conv_matrix(np.array([[[[1, 2], [3, 4]]]]), (4, 4), stride=2).toarray()
    assert np.loadtxt(path) == pytest.approx(np.linalg.svd(A, compute_uv=False), rel=1e-12)
    assert "bounds" not in out
    assert main(["spectrum", "--kernel", "[1, -1]", "--input-size", "6", "--k", "2", "--which", "smallest",
                 "--no-bounds"]) == 0
    out = capsys.readouterr().out
    D = cm.conv_matrix(np.array([[[1, -1]]]), 6).toarray()
    assert [float(v) for v in out.splitlines()[2].split(",")] == pytest.approx(
        np.linalg.svd(D, compute_uv=False)[-2:], rel=1e-5)
    assert _norm_printed(out) == pytest.approx(np.linalg.norm(D, 2), rel=1e-9)


def test_bad_output_and_k_are_named(tmp_path, capsys):
    base = ["spectrum", "--kernel", "[1, 2]", "--input-size", "4"]
    assert main(base + ["-o", str(tmp_path / "s.png")]) == 2
    assert "--output" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(base + ["--k", "0"])
    assert "--k" in capsys.readouterr().err
    assert main(base + ["--k", "100"]) == 2
    assert "--k" in capsys.readouterr().err


def test_tour_section(capsys):
    from convmatrix.cli.tour import SECTIONS

    k = SECTIONS.index("convmatrix.cli.spectrum:section_spectrum") + 1
    assert main(["tour", "--section", str(k)]) == 0
    out = capsys.readouterr().out
    w = np.random.default_rng(0).standard_normal((4, 4, 3, 3))
    exact = np.linalg.norm(cm.conv_matrix(w, (16, 16), padding=1).toarray(), 2)
    assert f"||A|| = {exact:.6g}" in out and "Gram iteration" in out
