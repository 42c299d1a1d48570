"""``linregions line``: output checked against the library called directly."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from linregions.cli import main
from linregions.commands._common import parse_activation, parse_law, parse_spec
from linregions.laws import Normal, random_mlp
from linregions.line import lines


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_matches_library(capsys):
    code, out, _ = _run(capsys, "line", "--mlp", "6-16x2-3", "--segments", "7", "--bias", "normal:0.2", "--seed", "4", "--json")
    assert code == 0
    data = json.loads(out)
    net = random_mlp(6, [16, 16], 3, biases=Normal(0.2), seed=4)
    rng = np.random.default_rng(5)  # the command draws segments with seed + 1
    X0, X1 = rng.normal(size=(7, 6)), rng.normal(size=(7, 6))
    batch = lines(net, X0, X1)
    assert data["segments"] == 7 and data["num_neurons"] == 32
    assert [d["activation"] for d in data["per_segment"]] == batch.num_regions("activation").tolist()
    assert [d["linear"] for d in data["per_segment"]] == batch.num_regions("linear").tolist()
    assert data["linear_regions"]["mean"] == pytest.approx(batch.num_regions("linear").mean())


def test_text_summary_and_explicit_segment(capsys):
    code, out, _ = _run(capsys, "line", "--mlp", "2-8-1", "--x0=-1,-1", "--x1", "1,1", "--activation", "hard_tanh")
    assert code == 0
    assert "1 segment(s)" in out and "linear regions:" in out and "activation regions:" in out


def test_points_file_and_torchscript_model(tmp_path, capsys):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 10), nn.ReLU(), nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 1)).eval()
    path = tmp_path / "m.pt"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(m), str(path))
    pts = np.random.default_rng(0).normal(size=(4, 3))
    np.save(tmp_path / "p.npy", pts)
    code, out, _ = _run(capsys, "line", "--model", str(path), "--points", str(tmp_path / "p.npy"), "--json")
    assert code == 0
    data = json.loads(out)
    from linregions.network import Network

    batch = lines(Network.from_torch(m), pts[0:4:2], pts[1:4:2])
    assert [d["activation"] for d in data["per_segment"]] == batch.num_regions("activation").tolist()
    # a pickled model needs --trust-pickle
    pk = tmp_path / "m.pkl"
    torch.save(m, str(pk))
    code, _, err = _run(capsys, "line", "--model", str(pk), "--segments", "2")
    assert code == 2 and "trust" in err and "Traceback" not in err
    code, _, _ = _run(capsys, "line", "--model", str(pk), "--trust-pickle", "--segments", "2")
    assert code == 0


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--mlp", "2-4-1", "--x0", "0,0"], "both --x0 and --x1"),
        (["--mlp", "2-4-1", "--x0", "0,0", "--x1", "0,0"], "x0 == x1"),
        (["--mlp", "2-4-1", "--x0", "0,0,0", "--x1", "1,1,1"], "shape"),
        (["--mlp", "2-4-1", "--x0", "0,a", "--x1", "1,1"], "--x0 must be comma-separated numbers"),
        (["--mlp", "2-4-1", "--segments", "0"], "--segments"),
        (["--mlp", "2-4-1", "--activation", "tanh"], "unknown activation 'tanh'"),
        (["--mlp", "2-4-1", "--bias", "normal:-1"], "std"),
        (["--mlp", "2-4-1", "--bias", "normal:abc"], "must be numbers"),
        (["--mlp", "banana"], "architecture"),
        (["--mlp", "2-4-1", "--model", "x.pt"], "either --mlp or --model"),
        (["--model", "/nonexistent/m.pt"], "no model file"),
    ],
)
def test_errors_are_one_line_messages(capsys, argv, match):
    code, out, err = _run(capsys, "line", *argv)
    assert code == 2
    assert match in err and "Traceback" not in err


def test_parsers():
    assert parse_spec("784-256x4") == (784, [256] * 4, 1)
    assert parse_spec("784-256x4-10") == (784, [256] * 4, 10)
    assert parse_spec("2-64") == (2, [64], 1)
    assert parse_activation("leaky_relu:0.3").slopes.tolist() == [0.3, 1.0]
    assert parse_activation("hard-tanh:-2,2").breakpoints.tolist() == [-2.0, 2.0]
    assert parse_law("uniform:-0.3,0.3").low == -0.3
    with pytest.raises(ValueError, match="input size"):
        parse_spec("5")


def test_bad_points_files(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2\nfoo bar\n")
    code, _, err = _run(capsys, "line", "--mlp", "2-4-1", "--points", str(bad))
    assert code == 2 and "cannot read points" in err
    code, _, err = _run(capsys, "line", "--mlp", "2-4-1", "--points", str(tmp_path / "none.npy"))
    assert code == 2 and "no points file" in err
    wrong = tmp_path / "w.npy"
    np.save(wrong, np.zeros((4, 3)))
    code, _, err = _run(capsys, "line", "--mlp", "2-4-1", "--points", str(wrong))
    assert code == 2 and "shape" in err
