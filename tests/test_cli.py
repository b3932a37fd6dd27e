"""The command line, in process (one subprocess smoke test per command is in test_cli_smoke.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

import convmatrix as cm
from convmatrix.cli import main

from conftest import run_cli


def run(*args, check=True):
    return run_cli(*args, check=check)


def test_tour_runs_and_starts_with_the_issue_example():
    out = run("tour").stdout
    assert out.startswith("== 1. A transposed convolution is a matrix")
    assert "[ 4  6  6  9]" in out and "(T != A.T).nnz == 0" in out


def test_conv_prints_small_matrix():
    out = run("conv", "--kernel", "[1, 2, 3]", "--input-size", "4", "--padding", "1").stdout
    assert "4 x 4 int64 CSR matrix, 10 stored entries" in out
    assert "[[2 3 0 0]\n [1 2 3 0]\n [0 1 2 3]\n [0 0 1 2]]" in out


def test_transpose_prints_the_issue_example(capsys):
    assert main(["transpose", "--kernel", "[[2, 3], [4, 5]]", "--input-size", "2,2", "--stride", "2"]) == 0
    out = capsys.readouterr().out
    assert "16 x 4 int64" in out and "[5 0 0 0]" in out


def test_large_matrix_is_summarised(capsys):
    assert main(["conv", "--random", "8,8,3,3", "--input-size", "16,16", "--padding", "same"]) == 0
    out = capsys.readouterr().out.splitlines()
    # 135,424 taps; the random integer kernel's zero entries are not stored
    m = re.match(r"2048 x 2048 int64 CSR matrix, ([\d,]+) stored entries", out[1])
    assert m and 100_000 < int(m.group(1).replace(",", "")) <= 135_424
    assert len(out) == 2


def test_symbolic(capsys):
    assert main(["conv", "--symbolic", "1,1,2", "--input-size", "3"]) == 0
    assert "w_{0,0,1}" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".npz", ".mtx", ".npy"])
def test_save(tmp_path, suffix):
    path = tmp_path / f"a{suffix}"
    run("conv", "--kernel", "[[1, 2], [3, 4]]", "--input-size", "3,3", "--padding", "((0, 1), (1, 0))", "-o", str(path))
    A = cm.conv_matrix(np.array([[[[1, 2], [3, 4]]]]), (3, 3), padding=((0, 1), (1, 0)))
    if suffix == ".npz":
        B = sp.load_npz(path)
    elif suffix == ".mtx":
        B = scipy.io.mmread(path)
    else:
        B = np.load(path)
    B = B.toarray() if sp.issparse(B) else B
    assert np.array_equal(B, A.toarray())


def test_weight_file_and_modes(tmp_path, capsys):
    w = np.arange(8).reshape(2, 1, 2, 2)
    np.save(tmp_path / "w.npy", w)
    assert main(["conv", "--weight", str(tmp_path / "w.npy"), "--input-size", "3,3", "--padding", "1",
                 "--padding-mode", "circular", "--groups", "1", "-o", str(tmp_path / "a.npz")]) == 0
    A = sp.load_npz(tmp_path / "a.npz")
    assert (A != cm.conv_matrix(w, (3, 3), padding=1, padding_mode="circular")).nnz == 0


def test_user_mistakes_exit_2_without_traceback():
    proc = run("conv", "--kernel", "[1, 2, 3]", "--input-size", "4", "--stride", "0", check=False)
    assert proc.returncode == 2
    assert "stride=0 must be positive" in proc.stderr and "Traceback" not in proc.stderr
    proc = run("transpose", "--kernel", "[1, 2, 3]", "--input-size", "4", "--stride", "2", "--output-padding", "2", check=False)
    assert proc.returncode == 2 and "output_padding=2 must be smaller" in proc.stderr
    proc = run("conv", "--kernel", "[1, 2", "--input-size", "4", check=False)
    assert proc.returncode == 2 and "--kernel" in proc.stderr
    proc = run("conv", "--kernel", "[1, 2]", "--input-size", "4", "-o", "/nonexistent/dir/a.npz", check=False)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    proc = run("conv", "--input-size", "4", check=False)  # no weight given: argparse's own error
    assert proc.returncode == 2 and "one of the arguments" in proc.stderr


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "COMMAND" in capsys.readouterr().out


def test_tour_section_choice(capsys):
    assert main(["tour", "--section", "1"]) == 0
    assert capsys.readouterr().out.startswith("== 1.")
    assert main(["tour", "--section", "99"]) == 2


def test_overlap_has_no_groups_option_because_groups_do_not_change_the_counts():
    # The counts are those of one channel pair.  In a grouped transposed convolution every output
    # channel is reached by the C_in/groups input channels of its group, each with these same
    # spatial counts: groups scale the counts uniformly and never change the checkerboard.
    counts = cm.overlap_counts(4, 3, stride=2)
    for groups in (1, 2, 4):
        w = np.ones((4, 4 // groups, 3), dtype=np.int64)  # (C_in, C_out/groups, k): C_in = C_out = 4
        T = cm.conv_transpose_matrix(w, 4, stride=2, groups=groups)
        per_row = np.diff(T.indptr).reshape(-1, counts.size)  # (C_out, output positions)
        assert (per_row == (4 // groups) * counts).all()
    proc = run("overlap", "--kernel-size", "3", "--stride", "2", "--input-size", "4", "--groups", "2", check=False)
    assert proc.returncode == 2 and "unrecognized arguments: --groups" in proc.stderr
    assert "Traceback" not in proc.stderr
    out = run("overlap", "--kernel-size", "3", "--stride", "2", "--input-size", "4").stdout
    assert "[1 1 2 1 2 1 2 1 1]" in out and "uneven" in out
    # verify still takes --groups (it builds the grouped matrices)
    out = run("verify", "--random", "4,1,3", "--input-size", "4", "--stride", "2", "--groups", "2").stdout
    assert "verify: transposed convolution, weight (4, 1, 3)" in out
