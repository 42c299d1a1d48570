"""Pictures of planar partitions (linregions.plot): files are written, colours follow activation
patterns (so they are stable under small weight changes), the decision boundary is exact."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from linregions.laws import Normal, random_mlp
from linregions.network import Network
from linregions.plane import plane
from linregions.plot import _decision_segments, plot_plane, plot_through, region_colors, save_plane

SQUARE = (-1.0, 1.0, -1.0, 1.0)


def test_save_png_and_svg(tmp_path):
    part = plane(random_mlp(2, [12, 12], 3, seed=0), [0.0, 0.0], np.eye(2), SQUARE)
    part.save(tmp_path / "slice.png", decision_boundary=True)
    assert (tmp_path / "slice.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    save_plane(part, tmp_path / "slice.svg", kind="activation", edge_kind="linear")
    assert b"<svg" in (tmp_path / "slice.svg").read_bytes()[:500]


def test_colours_stable_under_small_weight_changes():
    net = random_mlp(2, [10, 10], 1, biases=Normal(0.3), seed=1)
    rng = np.random.default_rng(0)
    net2 = Network(tuple(W * (1 + 1e-7 * rng.normal(size=W.shape)) for W in net.weights), net.biases, net.activations)
    a = plane(net, [0.0, 0.0], np.eye(2), SQUARE)
    b = plane(net2, [0.0, 0.0], np.eye(2), SQUARE)
    pa = np.concatenate(a.activation_codes(), axis=1)
    pb = np.concatenate(b.activation_codes(), axis=1)
    ca, cb = region_colors(a, "activation"), region_colors(b, "activation")
    index = {row.tobytes(): i for i, row in enumerate(pb)}
    matched = [(i, index[row.tobytes()]) for i, row in enumerate(pa) if row.tobytes() in index]
    assert len(matched) >= 0.95 * a.num_faces
    i, j = np.array(matched).T
    np.testing.assert_array_equal(ca[i], cb[j])
    # distinct patterns get (almost always) distinct colours
    assert np.unique(ca, axis=0).shape[0] >= 0.95 * a.num_faces


def test_linear_colours_constant_on_linear_regions():
    from linregions.activations import hard_tanh

    net = random_mlp(2, [3, 3, 3, 3], 1, activation=hard_tanh(), biases=Normal(0.5), seed=1)
    part = plane(net, [0.0, 0.0], np.eye(2), (-3, 3, -3, 3))
    assert part.num_regions("linear") < part.num_regions("activation")
    col = region_colors(part, "linear")
    lab = part.region_labels
    for r in np.unique(lab):
        assert np.unique(col[lab == r], axis=0).shape[0] == 1


def test_decision_boundary_is_exact():
    net = random_mlp(2, [16, 16], 1, biases=Normal(0.5), seed=3)
    # shift the output so that N(0) = 0: the decision boundary passes through the square
    net = Network(net.weights, net.biases[:-1] + (net.biases[-1] - net(np.zeros((1, 2)))[0],), net.activations)
    part = plane(net, [0.0, 0.0], np.eye(2), SQUARE)
    seg = _decision_segments(part)
    assert seg.shape[0] > 0
    ends = seg.reshape(-1, 2)
    scale = np.abs(net(part.to_input(part.vertices))).max()
    assert np.abs(net(part.to_input(ends))).max() <= 1e-9 * scale


def test_plot_through_marks_and_errors():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    net = random_mlp(20, [16, 16], 10, seed=0)
    part, ax = plot_through(net, *rng.random((3, 20)), labels=["a", "b", "c"], decision_boundary=True)
    assert [t.get_text() for t in ax.texts] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="edge_kind"):
        plot_plane(part, edge_kind="pieces")
    with pytest.raises(ValueError, match="layer_colors"):
        plot_plane(part, layer_colors=["k"])
    with pytest.raises(ValueError, match="kind"):
        region_colors(part, "pieces")
    plt.close("all")


def test_multi_output_decision_boundary_is_drawn_exactly():
    from matplotlib.collections import LineCollection

    from linregions.decision import plane_boundary

    net = random_mlp(2, [12, 12], 4, biases=Normal(0.5), seed=1)
    part = plane(net, [0.0, 0.0], np.eye(2), (-2, 2, -2, 2))
    ax = plot_plane(part, decision_boundary=True)
    drawn = [c for c in ax.collections if isinstance(c, LineCollection)][-1]
    segs = np.array(drawn.get_segments())
    np.testing.assert_array_equal(segs, plane_boundary(part).segments)
    # every drawn end is a tie of the top two classes
    v = np.sort(net(part.to_input(segs.reshape(-1, 2))), axis=1)
    assert np.max(v[:, -1] - v[:, -2]) <= 1e-9 * np.abs(v).max()


def test_layer_legend_and_ticks():
    net = random_mlp(2, [8, 8, 8], 1, biases=Normal(0.5), seed=0)
    part = plane(net, [0.0, 0.0], np.eye(2), SQUARE)
    ax = plot_plane(part, decision_boundary=True)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["layer 0", "layer 1", "layer 2", "decision boundary"]
    assert len(ax.get_xticks()) > 1 and "u" in ax.get_xlabel()
    ax2 = plot_plane(part, legend=False, ticks=False)
    assert ax2.get_legend() is None and len(ax2.get_xticks()) == 0


def test_line_rug_plot_colours_breakpoints_by_layer(tmp_path):
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_rgba

    from linregions import line
    from linregions.plot import plot_line, save_line

    net = random_mlp(3, [10, 10], 1, biases=Normal(0.5), seed=2)
    part = line(net, [-2.0, -1.0, 0.5], [2.0, 1.5, -1.0])
    colors = ["red", "blue"]
    ax = plot_line(part, layer_colors=colors)
    rug = [c for c in ax.collections if isinstance(c, LineCollection)][0]
    segs = np.array(rug.get_segments())
    np.testing.assert_allclose(segs[:, 0, 0], part.t * part.length)
    # colour = the deepest layer switching at each breakpoint (independently from the crossings)
    deepest = [max(part.layer[part.crossing_point == i]) for i in range(part.t.size)]
    rgb = np.array(rug.get_colors())[:, :3]
    np.testing.assert_allclose(rgb, np.array([to_rgba(colors[l])[:3] for l in deepest]))
    # the curve passes through the network's values at the breakpoints
    curve = ax.get_lines()[0].get_data()
    X = part.x0 + (curve[0] / part.length)[:, None] * (part.x1 - part.x0)
    np.testing.assert_allclose(curve[1], net(X)[:, 0], rtol=1e-9, atol=1e-12)
    save_line(part, tmp_path / "l.png")
    assert (tmp_path / "l.png").read_bytes()[:4] == b"\x89PNG"
