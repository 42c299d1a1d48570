"""``linregions line|plane|distance --model m.pt --input-shape C,H,W``: CNNs saved with TorchScript (or
pickled, with --trust) run through the torch-native engine; outputs checked against the library
called directly on the original module."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import linregions as lr
from linregions.cli import main
from linregions.commands._common import parse_shape

SHAPE = (3, 6, 6)


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    bn = nn.BatchNorm2d(4)
    with torch.no_grad():
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 1.5)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), bn, nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 2),
                         nn.LeakyReLU(0.1), nn.Flatten(), nn.Linear(16, 5)).eval()


def _script(m: nn.Module, path) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(m), str(path))
    return str(path)


@pytest.fixture
def saved(tmp_path):
    m = _cnn()
    return m, _script(m, tmp_path / "cnn.pt")


@pytest.mark.parametrize("text, shape", [("3,32,32", (3, 32, 32)), ("784", (784,)), (" 1, 28 ,28", (1, 28, 28))])
def test_parse_shape_reads_positive_ints(text, shape):
    assert parse_shape(text) == shape


@pytest.mark.parametrize("text", ["", "3,,32", "3x32x32", "-3,32", "3,32.0", "3;32", "0,4", "3,32,"])
def test_parse_shape_refuses_anything_else_quoting_it(text):
    with pytest.raises(ValueError, match=repr(text).replace("(", r"\(").replace(".", r"\.")):
        parse_shape(text)


def test_line_between_two_npy_samples_matches_the_library(capsys, saved, tmp_path):
    m, path = saved
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=SHAPE), rng.normal(size=SHAPE)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    code, out, _ = _run(capsys, "line", "--model", path, "--input-shape", "3,6,6", "--x0", tmp_path / "a.npy",
                        "--x1", tmp_path / "b.npy", "--json")
    assert code == 0
    data = json.loads(out)
    part = lr.line(m, a, b)
    assert data["input_shape"] == [3, 6, 6] and data["segments"] == 1
    assert data["per_segment"] == [{"linear": part.num_regions("linear"), "activation": part.num_regions("activation")}]


def test_line_points_file_of_samples_and_trusted_pickle(capsys, tmp_path):
    m = _cnn(1)
    pk = tmp_path / "cnn_pickle.pt"
    torch.save(m, pk)
    X = np.random.default_rng(1).normal(size=(4,) + SHAPE)
    np.save(tmp_path / "pts.npy", X)
    code, _, err = _run(capsys, "line", "--model", pk, "--input-shape", "3,6,6", "--points", tmp_path / "pts.npy")
    assert code == 2 and "--trust" in err and len(err.strip().splitlines()) == 1
    code, out, _ = _run(capsys, "line", "--model", pk, "--trust", "--input-shape", "3,6,6", "--points", tmp_path / "pts.npy",
                        "--json")
    assert code == 0
    batch = lr.lines(m, X[0::2], X[1::2])
    assert [d["activation"] for d in json.loads(out)["per_segment"]] == batch.num_regions("activation").tolist()
    assert [d["linear"] for d in json.loads(out)["per_segment"]] == batch.num_regions("linear").tolist()


def test_line_random_segments_are_shaped_like_samples(capsys, saved):
    m, path = saved
    code, out, _ = _run(capsys, "line", "--model", path, "--input-shape", "3,6,6", "--segments", "3", "--seed", "2", "--json")
    assert code == 0
    rng = np.random.default_rng(3)  # the command draws segments with seed + 1
    X0, X1 = rng.normal(size=(3,) + SHAPE), rng.normal(size=(3,) + SHAPE)
    batch = lr.lines(m, X0, X1)
    assert [d["linear"] for d in json.loads(out)["per_segment"]] == batch.num_regions("linear").tolist()


def test_distance_matches_the_library_with_unit_names(capsys, saved, tmp_path):
    m, path = saved
    X = np.random.default_rng(4).normal(size=(3,) + SHAPE)
    np.save(tmp_path / "x.npy", X)
    code, out, _ = _run(capsys, "distance", "--model", path, "--input-shape", "3,6,6", "--points", tmp_path / "x.npy",
                        "--chunk-points", "40", "--json")
    assert code == 0
    data = json.loads(out)["activation"]
    r = lr.distance_to_boundary(m, X)
    np.testing.assert_allclose([d["distance"] for d in data["per_input"]], r.distance, rtol=1e-14)
    assert [d["layer"] for d in data["per_input"]] == r.layer.tolist()
    prog = lr.compile_program(m, SHAPE)
    assert [d["unit_name"] for d in data["per_input"]] == [prog.unit_name(l, u) for l, u in zip(r.layer, r.unit)]


def test_distance_progress_bar_on_long_work(capsys, saved, monkeypatch):
    import linregions.commands.distance as cmd

    monkeypatch.setattr(cmd, "show_progress", lambda args: True)
    m, path = saved
    code, _, err = _run(capsys, "distance", "--model", path, "--input-shape", "3,6,6", "--samples", "3", "--chunk-points", "30")
    assert code == 0 and "distance (activation)" in err


def test_distance_linear_on_images_is_refused_before_work(capsys, saved, monkeypatch):
    import linregions.commands.distance as cmd

    monkeypatch.setattr(cmd, "distance_to_boundary", lambda *a, **k: pytest.fail("work started"))
    _, path = saved
    code, _, err = _run(capsys, "distance", "--model", path, "--input-shape", "3,6,6", "--kind", "both")
    assert code == 2 and "--kind activation" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, needle", [
    (["--input-shape", "3,6"], "(3, 6)"),
    (["--input-shape", "3,6,x"], "'3,6,x'"),
    (["--input-shape", "1,6,6"], "(1, 6, 6)"),
])
def test_wrong_shapes_are_one_line_errors_quoting_them(capsys, saved, argv, needle):
    _, path = saved
    for cmd in ("line", "distance"):
        code, _, err = _run(capsys, cmd, "--model", path, *argv)
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err


def test_module_only_options_are_refused_for_mlps(capsys):
    code, _, err = _run(capsys, "line", "--mlp", "2-4-1", "--input-shape", "2")
    assert code == 2 and "--model" in err
    code, _, err = _run(capsys, "distance", "--mlp", "2-4-1", "--chunk-points", "4")
    assert code == 2 and "--chunk-points" in err


def test_scripted_module_that_is_not_a_sequential_is_refused_with_what_to_do(capsys, tmp_path):
    class Res(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x):
            return torch.relu(x + self.c(x)).flatten(1)

    path = _script(Res().eval(), tmp_path / "res.pt")
    code, _, err = _run(capsys, "line", "--model", path, "--input-shape", "3,6,6")
    assert code == 2 and "--trust" in err and "Sequential" in err


def test_plane_through_three_samples(capsys, tmp_path):
    torch.manual_seed(3)
    m = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3)).eval()
    shape = (1, 4, 4)
    X = np.random.default_rng(5).normal(size=(3,) + shape)
    try:
        ref = lr.plane_through(m, X[0], X[1], X[2], input_shape=shape)
    except TypeError as e:
        pytest.skip(f"lr.plane_through does not take torch modules yet ({e})")
    path = _script(m, tmp_path / "small.pt")
    np.save(tmp_path / "three.npy", X)
    code, out, _ = _run(capsys, "plane", "--model", path, "--input-shape", "1,4,4", "--points", tmp_path / "three.npy",
                        "--png", "none", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["linear_regions"] == ref.num_regions("linear")
    assert data["activation_regions"] == ref.num_regions("activation")
    code, _, err = _run(capsys, "plane", "--model", path, "--input-shape", "1,4,4", "--origin", "0,0", "--png", "none")
    assert code == 2 and "three inputs" in err


def test_mlp_segment_ends_from_npy_files(capsys, tmp_path):
    np.save(tmp_path / "a.npy", np.array([-1.0, 0.5]))
    np.save(tmp_path / "b.npy", np.array([1.0, -0.5]))
    code, out, _ = _run(capsys, "line", "--mlp", "2-8-1", "--x0", tmp_path / "a.npy", "--x1", tmp_path / "b.npy", "--json")
    assert code == 0
    ref = lr.line(lr.random_mlp(2, [8], 1, seed=0, biases=lr.Normal(0.1)), [-1.0, 0.5], [1.0, -0.5])
    assert json.loads(out)["per_segment"] == [{"linear": ref.num_regions("linear"), "activation": ref.num_regions("activation")}]
    np.save(tmp_path / "two.npy", np.zeros((2, 2)))
    code, _, err = _run(capsys, "line", "--mlp", "2-8-1", "--x0", tmp_path / "two.npy", "--x1", tmp_path / "b.npy")
    assert code == 2 and "two.npy" in err
