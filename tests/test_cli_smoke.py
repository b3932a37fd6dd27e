"""One subprocess smoke test per command: the installed entry point, a real process, real pipes.

Everything else about the command line is tested in process (``tests/test_cli.py``,
``tests/test_bad_input.py`` and each feature's tests).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from convmatrix.cli import COMMAND_MODULES, build_parser

#: One cheap, valid command line per command, and what its output must contain.
SMOKE = {
    "tour": (["tour", "--section", "1"], "== 1. A transposed convolution is a matrix"),
    "conv": (["conv", "--kernel", "[1, 2, 3]", "--input-size", "4", "--padding", "1"], "[[2 3 0 0]"),
    "transpose": (["transpose", "--kernel", "[[2, 3], [4, 5]]", "--input-size", "2,2", "--stride", "2"],
                  "16 x 4 int64"),
    "verify": (["verify", "--random", "2,1,3", "--input-size", "4", "--stride", "2"], "EXACT"),
    "overlap": (["overlap", "--kernel-size", "3", "--stride", "2", "--input-size", "4"], "uneven"),
    "spectrum": (["spectrum", "--random", "4,4,3,3", "--input-size", "8,8", "--padding", "1", "--k", "3"],
                 "spectral norm (Lipschitz constant), exact"),
    "resample": (["resample", "pad", "--input-size", "3", "--padding", "1"], "5 x 3 int64"),
    "deconvnet": (["deconvnet", "--input-size", "8,8", "--maps", "2", "--kernel", "3", "--pool", "1x2x2"],
                  "exact transpose: True"),
    "batchnorm": (["batchnorm", "--batch", "2"], "equalities proved"),
    "animate": (["animate", "--kernel-size", "3", "--input-size", "4", "--stride", "2", "--ndim", "1",
                 "-o", "{tmp}/a.gif"], "a.gif"),
}


def _commands() -> list[str]:
    parser = build_parser()
    return list(parser._subparsers._group_actions[0].choices)


def test_every_command_has_a_smoke_test():
    missing = [c for c in _commands() if c not in SMOKE]
    assert not missing, f"commands without a subprocess smoke test: {missing} (modules {COMMAND_MODULES})"


@pytest.mark.parametrize("command", sorted(SMOKE))
def test_smoke(command, tmp_path):
    argv, needle = SMOKE[command]
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    proc = subprocess.run([sys.executable, "-m", "convmatrix", *argv], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert needle in proc.stdout and proc.stderr == ""


def test_a_user_mistake_in_a_real_process():
    proc = subprocess.run([sys.executable, "-m", "convmatrix", "conv", "--kernel", "[1, 2, 3]", "--input-size", "4",
                           "--stride", "0"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == ("convmatrix conv: error: --stride: stride=0 must be positive along every axis: "
                                   "got 0 along axis 0")
