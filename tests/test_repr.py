"""Notebook representations (linregions.notebook) return valid PNG / SVG / HTML, without a
notebook: PNG by its signature and header, SVG and HTML by an XML / HTML parser."""
from __future__ import annotations

import base64
import re
import struct
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from linregions import line, plane, random_mlp
from linregions.laws import Normal
from linregions.notebook import SVG_MAX_REGIONS, repr_html, repr_png, repr_svg


def _check_png(b: bytes) -> tuple[int, int]:
    assert b[:8] == b"\x89PNG\r\n\x1a\n"
    assert b[12:16] == b"IHDR" and b[-8:-4] == b"IEND"
    w, h = struct.unpack(">II", b[16:24])
    assert w > 100 and h > 100
    return w, h


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.seen = [], []

    def handle_starttag(self, tag, attrs):
        self.seen.append((tag, dict(attrs)))
        if tag not in ("img", "br", "meta", "input", "hr"):
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.seen.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack)
        self.stack.pop()


def _check_html(s: str):
    p = _Tags()
    p.feed(s)
    p.close()
    assert p.stack == []
    return p.seen


@pytest.fixture(scope="module")
def parts():
    net = random_mlp(2, [8, 8], 3, biases=Normal(0.5), seed=0)
    return plane(net, [0.0, 0.0], np.eye(2), (-2, 2, -2, 2)), line(net, [-2.0, -1.0], [2.0, 1.5])


def test_png_svg_html_of_partitions(parts):
    for part in parts:
        _check_png(repr_png(part))
        assert repr_png(part) is repr_png(part)  # rendered once, cached
        svg = repr_svg(part)
        root = ET.fromstring(svg.encode())
        assert root.tag.endswith("svg")
        seen = _check_html(repr_html(part))
        imgs = [a for t, a in seen if t == "img"]
        assert len(imgs) == 1
        m = re.match(r"data:image/png;base64,(.*)", imgs[0]["src"])
        _check_png(base64.b64decode(m.group(1)))


def test_html_of_results_and_tables(parts):
    from linregions.decision import plane_boundary
    from linregions.regions import dual_graph, region_table

    p = parts[0]
    for obj in (plane_boundary(p), dual_graph(p)):
        seen = _check_html(obj._repr_html_())
        assert any(t == "table" for t, _ in seen)
    seen = _check_html(repr_html(region_table(p)))
    assert sum(t == "tr" for t, _ in seen) > 5


def test_no_svg_for_huge_partitions(parts, monkeypatch):
    import linregions.notebook as nb

    monkeypatch.setattr(nb, "SVG_MAX_REGIONS", parts[0].num_faces - 1)
    assert nb.repr_svg(parts[0]) is None
    assert SVG_MAX_REGIONS >= 1000
