"""Bad values over every public callable and every command-line option.

Each public function, constructor, classmethod and public method is called
from a valid baseline with one argument replaced by a value from a catalogue of
bad ones.  The only acceptable outcomes are success or a documented refusal: an
:class:`~convmatrix.InputError` (a ``TypeError``/``ValueError``) that names the
parameter, or the size guard's :class:`~convmatrix.MatrixTooLargeError`.  A
``MemoryError`` (allocation before refusal), any other exception (a crash) or a
call that takes more than a few seconds (a hang) fails the test.

The command line gets the same treatment: every option of every command with
bad strings, in process; the outcome is exit 0, or exit 2 with one line on
stderr that names the option and no traceback.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import signal
import sys

import numpy as np
import pytest

import convmatrix as cm
from convmatrix.cli import build_parser, main

#: The size limit in force during the sweep: builders refuse early instead of filling memory.
SWEEP_MAX_BYTES = str(256 * 2**20)
#: Seconds one call may take before it counts as a hang.
TIME_LIMIT = 20


class _Slow(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: int):
    def alarm(signum, frame):
        raise _Slow()

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _bad_values():
    import sympy

    return [
        None, True, np.True_, 0, -1, -(2**63), 2**63, 10**30, 10**12, np.int64(-3), 1.5, float("nan"), float("inf"), -0.0,
        1j, "", "2", "zeros ", b"x", [], (), (1, 2, 3, 4, 5), [[1, 2], [3]], {}, {1, 2}, object(),
        np.array([]), np.array(5.0), np.array([[1.0, 2.0]]), np.array(["a"]), np.ones((2, 2), dtype=bool),
        sympy.Symbol("x") > 1, lambda z: z, slice(2),
    ]


# --------------------------------------------------------------------------- the baselines
def _baselines():
    from convmatrix import sparse_coding, structure
    from convmatrix.export import (format_matrix, load_matrix, matrix_image, matrix_latex, png_bytes, save_matrix,
                                   summarize_matrix)

    W = np.arange(1, 7).reshape(2, 1, 3)  # conv layout (C_out=2, C_in=1, k=3)
    Wt = np.arange(1, 7).reshape(1, 2, 3)  # transposed layout (C_in=1, C_out=2, k=3)
    x = np.arange(10.0).reshape(2, 5)
    g = cm.ConvGeometry.from_weight_shape((2, 1, 3), 5, padding=1)
    sw = cm.max_pool_switches(np.arange(8.0).reshape(2, 4), 2)
    A = cm.conv_matrix(W, 5)
    R = np.array([[1.0, 2.0], [0.0, 1.0], [3.0, 0.0]])
    layer = cm.ZeilerLayer(np.ones((2, 1, 3)), "valid", cm.MaxPool(2, channel_pool=2))
    stack = cm.ZeilerStack([layer, cm.ZeilerLayer(np.ones((1, 1, 2)))], (1, 6))
    maps = [np.arange(16.0).reshape(2, 8)]
    net = cm.DeconvNet([cm.ConvLayer(np.ones((2, 1, 3)), padding=1, pool=cm.MaxPool(2))], (1, 6))
    bn = cm.BatchNorm(2)
    xb = np.arange(8.0).reshape(4, 2)
    bn.forward(xb)
    _, cache = cm.batchnorm_forward(xb)
    img = matrix_image(np.eye(2), min_side=2)
    import os
    import tempfile

    tmp = tempfile.mkdtemp()
    saved = save_matrix(A, os.path.join(tmp, "a.npz"))
    d = cm.Derivation("t", [cm.Step(1, 1, "one", name="one")])
    import sympy

    a, b = cm.NamedSymbol("a"), cm.NamedSymbol("b")
    nodes = [cm.GraphNode("a", a), cm.GraphNode("b", b, a**2, "square", {"a": "the derivative of a² is 2a"})]
    graph = cm.ComputationalGraph("b = a^2", nodes, output="b", index=sympy.Symbol("i"), dummy=sympy.Symbol("j"),
                                  size=1)
    import torch

    fmap = cm.AffineMap(A, np.ones(6), (1, 5), (2, 3))
    return [
        # layer 1
        (cm.conv_output_size, (5, 3), {}),
        (cm.conv_transpose_output_size, (5, 3), {}),
        (cm.transpose_arithmetic, (5, 3), {}),
        (cm.ConvGeometry, (2, 1, (3,), (5,)), {}),
        (cm.ConvGeometry.from_weight_shape, ((2, 1, 3), 5), {}),
        (cm.ConvTransposeGeometry, (1, 2, (3,), (5,)), {}),
        (cm.ConvTransposeGeometry.from_weight_shape, ((1, 2, 3), 5), {}),
        (cm.PoolGeometry, (5, 2), {}),
        (cm.PoolGeometry.from_args, (5, 2), {}),
        (cm.TransposeArithmetic, ((5,), (3,), (1,), ((0, 0),), (0,), (1,)), {}),
        (cm.TransposeArithmetic.of_convolution, (5, 3), {}),
        (cm.PoolGeometry.from_args(5, 2).window_geometry, (), {}),
        (cm.matrix_bytes, ((4, 6), 10), {}),
        # layers 2-3
        (cm.tap_map, (g,), {}),
        (structure.plain_tap_map, (g,), {}),
        (structure.transposed_tap_map, (g,), {}),
        (structure.pattern_nnz, (g,), {}),
        (structure.tap_counts, (g,), {}),
        (cm.affine_matrix, (A, np.ones(6)), {}),
        (cm.conv_bias_vector, ([1, 2], 3), {}),
        (cm.conv_matrix, (W, 5), {}),
        (cm.conv_transpose_matrix, (Wt, 4), {}),
        (cm.estimate_size, (g,), {}),
        (cm.symbolic_weight, ((1, 1, 2),), {}),
        (cm.im2col_matrix, (x, 3), {}),
        # layer 4
        (cm.avg_pool_matrix, (5, 2), {}),
        (cm.sum_pool_matrix, (4, 2), {}),
        (cm.pad_matrix, ((4,), 1), {}),
        (cm.pad_widths_from_torch, ((1, 2),), {}),
        (cm.subsample_matrix, (5, 2), {}),
        (cm.upsample_matrix, (3, 2), {}),
        (cm.zero_insertion_matrix, (3, 2), {}),
        (cm.MaxPool, (2,), {}),
        (cm.MaxPool(2).switches, (x,), {}),
        (cm.MaxPool(2).output_shape, ((2, 5),), {}),
        (cm.max_pool_output_size, (5, 2), {}),
        (cm.max_pool_switches, (x, 2), {}),
        (cm.pool_matrix, (sw,), {}),
        (cm.unpool_matrix, (sw,), {}),
        (sw.pool, (np.arange(8.0),), {}),
        (sw.unpool, (np.arange(4.0),), {}),
        (cm.interpolate_matrix, (4, 6), {"mode": "linear"}),
        (cm.interpolate_output_size, (4,), {"scale_factor": 1.5}),
        (cm.pixel_shuffle_matrix, ((2, 2), 2), {}),
        (cm.pixel_unshuffle_matrix, ((2, 2), 2), {}),
        (cm.adaptive_avg_pool_matrix, (5, 2), {}),
        (cm.unfold_matrix, ((3, 3), 2), {}),
        (cm.fold_matrix, ((3, 3), 2), {}),
        # layer 5
        (cm.has_uneven_overlap, (3, 2), {}),
        (cm.overlap_counts, (4, 3), {}),
        (cm.transposed_conv_as_direct, (Wt, 4), {}),
        (cm.verify_transpose_equivalence, (Wt, 4), {}),
        (cm.ZeilerLayer, (np.ones((2, 1, 3)),), {}),
        (layer.map_size, (5,), {}),
        (layer.F, (7,), {}),
        (layer.Ft, (5,), {}),
        (cm.ZeilerStack, ([layer], (1, 6)), {}),
        (stack.F, (1,), {}),
        (stack.Ft, (1,), {}),
        (stack.R, (2, stack.switches(maps)), {}),
        (stack.Rt, (2, stack.switches(maps)), {}),
        (stack.switches, (maps,), {}),
        (stack.factors, (2, stack.switches(maps)), {}),
        (stack.factor_names, (2, stack.switches(maps)), {}),
        (stack.norms, (2, stack.switches(maps)), {}),
        (stack.infer, (np.ones((1, 6)), 1), {"n_iter": 2}),
        (cm.ConvLayer, (np.ones((2, 1, 3)),), {}),
        (cm.DeconvNet, ([cm.ConvLayer(np.ones((2, 1, 3)))], (1, 6)), {}),
        (net.forward, (np.ones((1, 6)),), {}),
        (net.project, (np.ones((1, 6)), 1), {}),
        (cm.ista, (R, np.ones(3)), {"n_iter": 2}),
        (cm.fista, (R, np.ones(3)), {"n_iter": 2}),
        (cm.operator_norm, (R,), {}),
        (cm.operator_norm, (R,), {"method": "exact"}),
        (cm.composed_norm, ([R, R.T],), {"names": ["R", "Rt"]}),
        (cm.network_norms, (torch.nn.Sequential(torch.nn.Conv1d(1, 2, 3), torch.nn.ReLU()), (1, 5)),
         {"x": np.ones((1, 5))}),
        (cm.spectral_norm_bounds, (W, 5), {"padding": 1}),
        (cm.spectral_norm_report, (W, 5), {"padding": 1, "exact": 10.0}),
        (cm.SpectralNormBound, ("x", 1.0, True, "A & B, 2020", "proved"), {}),
        (cm.singular_values, (W, 5), {"padding": 1}),
        (cm.singular_values, (W, 6), {"padding": 1, "padding_mode": "circular", "k": 2}),
        (cm.spectrum, (W, 5), {"k": 1}),
        (cm.spectral_norm, (W, 5), {"padding": 1, "padding_mode": "circular"}),
        (cm.spectral_norm, (W, 5), {"padding_mode": "reflect"}),
        (cm.matrix_spectrum, (R,), {}),
        (cm.matrix_spectrum, (A,), {"k": 1, "method": "sparse"}),
        (cm.circulant_strides, (g,), {}),
        (cm.conv_operator, (W, 5), {"padding": 1, "padding_mode": "replicate"}),
        (cm.clip_spectral_norm, (np.ones((2, 2, 3)), 5, 1.0), {}),
        (sparse_coding.lasso_cost, (R, np.ones(3), np.ones(2), 1.0), {}),
        (sparse_coding.soft_threshold, (np.ones(3), 0.5), {}),
        (cm.filter_bank, (), {}),
        (cm.psnr, (np.ones(3), np.zeros(3)), {}),
        (cm.synthetic_scene, (16,), {}),
        (cm.BatchNorm, (2,), {}),
        (bn.forward, (xb,), {}),
        (bn.backward, (np.ones((4, 2)),), {}),
        (bn.train, (True,), {}),
        (cm.batchnorm_forward, (xb,), {}),
        (cm.batchnorm_backward, (np.ones((4, 2)), cache), {}),
        (cm.batchnorm_eval_matrix, ([0.0, 1.0], [1.0, 2.0]), {}),
        (cm.fold_conv_batchnorm, (np.ones((2, 1, 3)), None, [0.0, 1.0], [1.0, 2.0]), {}),
        (cm.AffineMap, (A, np.ones(6), (1, 5), (2, 3)), {}),
        (fmap, (np.ones(5),), {}),
        (fmap.asformat, ("csc",), {}),
        (fmap.reshaped, ((6,),), {}),
        (fmap.shifted, (1.0,), {}),
        (fmap.scaled, (2.0,), {}),
        (fmap.homogeneous, (), {}),
        (cm.AffineMap.identity, ((2, 3),), {}),
        (cm.from_torch, (torch.nn.Conv1d(1, 2, 3), (1, 5)), {}),
        (cm.from_torch, (torch.nn.Sequential(torch.nn.Conv1d(1, 2, 3), torch.nn.ReLU()), (1, 5)),
         {"x": np.ones((1, 5))}),
        # layer 6
        (cm.batchnorm_derivation, (2,), {"check": False}),
        (cm.batchnorm_jacobian, (2,), {}),
        (cm.Step, (1, 1, "one"), {}),
        (cm.Derivation, ("t", [cm.Step(1, 1, "one")]), {}),
        (d.step, ("one",), {}),
        (d.position, ("one",), {}),
        (d.check_numbers, (), {}),
        (cm.NamedSymbol, ("a",), {}),
        (cm.NamedIndexedBase, ("x",), {}),
        (cm.GraphNode, ("b", b, a**2, "square", {"a": "the derivative"}), {}),
        (cm.ComputationalGraph, ("b = a^2", nodes), {"output": "b", "index": sympy.Symbol("i"),
                                                     "dummy": sympy.Symbol("j"), "size": 1}),
        (cm.backpropagate, (graph,), {}),
        (cm.to_latex, (np.eye(2),), {}),
        (cm.show, (A,), {}),
        (cm.overlap_map, ([cm.ConvTransposeGeometry.from_weight_shape((1, 1, 3), 4, stride=2)],), {}),
        # layer 7
        (format_matrix, (A,), {}),
        (summarize_matrix, (A,), {}),
        (matrix_image, (A,), {}),
        (png_bytes, (img,), {}),
        (matrix_latex, (np.eye(2),), {}),
        (save_matrix, (A, os.path.join(tmp, "b.npz")), {}),
        (load_matrix, (saved,), {}),
    ]


def _name(func) -> str:
    owner = getattr(func, "__self__", None)
    prefix = f"{type(owner).__name__}." if owner is not None and not isinstance(owner, type) else ""
    return prefix + getattr(func, "__qualname__", repr(func))


def _parameters(func):
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):  # pragma: no cover
        return []
    return [p for p in sig.parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and not p.name.startswith("_")]


def _call(func, args, kwargs, param, position, value):
    args = list(args)
    kwargs = dict(kwargs)
    if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD) and position < len(args):
        args[position] = value
    else:
        kwargs[param.name] = value
    return func(*args, **kwargs)


#: Parameters that count work to do, not sizes: a large value is a long run on purpose, not a hang.
WORK_COUNTS = {"n_iter", "points"}


def _outcome(func, args, kwargs, param, position, value) -> str | None:
    """``None`` for an acceptable outcome, else what went wrong."""
    if param.name in WORK_COUNTS and isinstance(value, int) and not isinstance(value, bool) and 10**6 < value < 2**63:
        return None
    try:
        with _time_limit(TIME_LIMIT):
            _call(func, args, kwargs, param, position, value)
    except cm.MatrixTooLargeError:
        return None
    except cm.InputError as exc:
        if exc.parameter == param.name or param.name in str(exc):
            return None
        return f"refused without naming {param.name!r}: {type(exc).__name__}: {exc}"
    except _Slow:
        return f"took more than {TIME_LIMIT} s"
    except MemoryError:
        return "MemoryError: allocated before refusing"
    except Exception as exc:  # noqa: BLE001 - any other exception is a crash
        return f"crashed: {type(exc).__name__}: {str(exc)[:200]}"
    return None


def test_every_public_callable_is_in_the_sweep():
    """A public callable added later must get a baseline here (records and exceptions aside)."""
    covered = {getattr(f, "__name__", None) for f, _, _ in _baselines()}
    records = {
        "Backpropagation",
        "BatchNormDerivation",
        "ComposedNorm",
        "DerivationError",
        "InferenceResult",
        "InputError",
        "InputTypeError",
        "InputValueError",
        "MatrixTooLargeError",
        "OverlapMap",
        "SpectralNormBound",
        "SpectralNormReport",
        "Spectrum",
        "Switches",
        "TapMap",
        "TransposeEquivalenceReport",
        "TransposedConvAsDirect",
    }
    missing = [n for n in cm.__all__ if callable(getattr(cm, n)) and n not in covered and n not in records]
    assert not missing, f"public callables without a baseline in the sweep: {missing}"


def test_baselines_succeed():
    for func, args, kwargs in _baselines():
        func(*args, **kwargs)


@pytest.mark.parametrize("index", range(len(_baselines())), ids=[_name(f) for f, _, _ in _baselines()])
def test_bad_values_are_refused_by_name(index, monkeypatch):
    monkeypatch.setenv("CONVMATRIX_MAX_BYTES", SWEEP_MAX_BYTES)
    func, args, kwargs = _baselines()[index]
    problems = []
    for position, param in enumerate(_parameters(func)):
        for value in _bad_values():
            why = _outcome(func, args, kwargs, param, position, value)
            if why:
                problems.append(f"{_name(func)}({param.name}={cm._validation.show(value)}): {why}")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- the command line
#: A valid command line per command (the sweep replaces one option's value at a time).
COMMANDS = [
    ["conv", "--kernel", "[1, 2, 3]", "--input-size", "5", "--padding", "1"],
    ["transpose", "--kernel", "[[2, 3], [4, 5]]", "--input-size", "2,2", "--stride", "2"],
    ["verify", "--random", "2,1,3", "--input-size", "4", "--stride", "2"],
    ["overlap", "--kernel-size", "3", "--stride", "2", "--input-size", "4"],
    ["resample", "pad", "--input-size", "3", "--padding", "((1, 1),)"],
    ["resample", "zero-insert", "--input-size", "3", "--stride", "2"],
    ["resample", "subsample", "--input-size", "5", "--stride", "2"],
    ["resample", "upsample", "--input-size", "3", "--scale-factor", "2"],
    ["resample", "avg-pool", "--input-size", "4", "--kernel-size", "2"],
    ["resample", "sum-pool", "--input-size", "4", "--kernel-size", "2"],
    ["deconvnet", "--input-size", "8,8", "--maps", "2", "--kernel", "3", "--pool", "1x2x2"],
    ["batchnorm", "--batch", "2"],
    ["tour", "--section", "1"],
    ["spectrum", "--random", "2,1,3", "--input-size", "6", "--padding", "1", "--k", "2"],
    ["spectrum", "--kernel", "[[1, 2], [3, 4]]", "--input-size", "4,4", "--padding-mode", "circular",
     "--padding", "1,0", "--k", "all", "--no-bounds"],
    ["animate", "--kernel-size", "3", "--input-size", "4", "--stride", "2", "--ndim", "1", "-o", "a.gif"],
]

#: Bad strings for an option's value.
BAD_STRINGS = ["", "-1", "0", "nan", "1e400", "9223372036854775808", "100000000000", "x", "[[", "3,", "1,1,1,1,1,1",
               "((1, 2), (3, 4), (5, 6))", "[1, [2]]", "/nonexistent/dir/a.npy"]


def _options(argv):
    """The options of a command (flags taking a value), from its own parser."""
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[argv[0]]
    if argv[0] == "resample":
        sub = sub._subparsers._group_actions[0].choices[argv[1]]
    return [a for a in sub._actions if a.option_strings and a.nargs != 0 and a.dest != "help"]


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            with _time_limit(TIME_LIMIT):
                status = main(argv)
        except SystemExit as exc:  # argparse's own refusals
            status = exc.code
    return status, err.getvalue()


def _with(argv, option, value):
    argv = list(argv)
    for flag in option.option_strings:
        if flag in argv:
            i = argv.index(flag)
            return argv[:i] + [flag, value] + argv[i + 2:]
    # weight options are exclusive: swap the weight source for this one
    sources = ("--kernel", "--weight", "--random", "--symbolic")
    if option.option_strings[-1] in sources:
        for flag in sources:
            if flag in argv:
                i = argv.index(flag)
                argv = argv[:i] + argv[i + 2:]
    return argv + [option.option_strings[-1], value]


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
def test_every_cli_option_refuses_bad_values_by_name(argv, monkeypatch, tmp_path):
    monkeypatch.setenv("CONVMATRIX_MAX_BYTES", SWEEP_MAX_BYTES)
    monkeypatch.chdir(tmp_path)
    assert _run(argv)[0] == 0
    problems = []
    for option in _options(argv):
        for value in BAD_STRINGS:
            call = _with(argv, option, value)
            try:
                status, err = _run(call)
            except _Slow:
                problems.append(f"{' '.join(call)}: took more than {TIME_LIMIT} s")
                continue
            except Exception as exc:  # noqa: BLE001 - a traceback for a user mistake
                problems.append(f"{' '.join(call)}: crashed: {type(exc).__name__}: {exc}")
                continue
            if status in (0, 1, None):
                continue
            names = [f for f in option.option_strings] + [option.dest]
            size_guard = "max_bytes" in err or "--max-bytes" in err  # the size guard's documented refusal
            if status != 2 or "Traceback" in err or not (size_guard or any(f in err for f in names)):
                problems.append(f"{' '.join(call)}: exit {status}, stderr {err.strip()[:300]!r}")
    assert not problems, "\n".join(problems)


COMMAND_NAMES = ["tour", "conv", "transpose", "verify", "overlap", "spectrum", "resample", "deconvnet", "batchnorm",
                 "animate"]


@pytest.mark.parametrize("command", COMMAND_NAMES)
def test_every_command_has_a_sweep(command):
    assert any(c[0] == command for c in COMMANDS)


def test_weight_files(tmp_path, capsys):
    """Bad, empty and wrong-kind weight files are named user mistakes."""
    np.save(tmp_path / "ok.npy", np.ones((1, 1, 3)))
    np.savez(tmp_path / "two.npz", a=np.ones(3), b=np.ones(3))
    np.savez(tmp_path / "one.npz", w=np.ones((1, 1, 3)))
    (tmp_path / "empty.npy").write_bytes(b"")
    (tmp_path / "text.npy").write_text("hello")
    np.save(tmp_path / "obj.npy", np.array([object()], dtype=object), allow_pickle=True)
    assert main(["conv", "--weight", str(tmp_path / "ok.npy"), "--input-size", "5"]) == 0
    assert main(["conv", "--weight", str(tmp_path / "one.npz"), "--input-size", "5"]) == 0
    capsys.readouterr()
    for name in ("two.npz", "empty.npy", "text.npy", "obj.npy", "missing.npy", "."):
        assert main(["conv", "--weight", str(tmp_path / name), "--input-size", "5"]) == 2, name
        err = capsys.readouterr().err
        assert err.startswith("convmatrix conv: error: --weight") and len(err.splitlines()) == 1, err


def test_outputs_that_do_not_fit_are_refused_before_allocating(tmp_path, capsys):
    # the README's 64 -> 64 layer as a dense .npy would be 300 GiB: refused at once, nothing written
    status = main(["conv", "--random", "64,64,3,3", "--input-size", "56,56", "--padding", "1", "-o",
                   str(tmp_path / "conv.npy"), "--max-bytes", str(2 * 2**30)])
    err = capsys.readouterr().err
    assert status == 2 and "dense" in err and "GiB" in err and not list(tmp_path.iterdir())
    assert main(["conv", "--symbolic", "100,100,100,100", "--input-size", "5"]) == 2
    assert "SymPy symbols" in capsys.readouterr().err
    assert main(["batchnorm", "--batch", "2147483648"]) == 2
    assert "--batch" in capsys.readouterr().err


def test_a_library_bug_shows_its_traceback(monkeypatch):
    # only InputError is a user mistake: any other exception (a bug) propagates with its traceback
    from convmatrix.cli import conv

    def broken(args):
        raise TypeError("an internal bug")

    monkeypatch.setattr(conv, "run_conv", broken)
    parser_argv = ["conv", "--kernel", "[1, 2]", "--input-size", "3"]
    with pytest.raises(TypeError, match="an internal bug"):
        main(parser_argv)


def test_a_closed_pipe_ends_quietly():
    import subprocess

    proc = subprocess.run(f"{sys.executable} -m convmatrix tour | head -1", shell=True, capture_output=True,
                          text=True, timeout=300)
    assert proc.stdout.startswith("== 1.") and proc.stderr == ""
