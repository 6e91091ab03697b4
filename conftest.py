"""pytest set-up shared by the unit tests and nbval.

nbval starts one kernel per notebook after this file is imported, so the environment set here is
what the kernels see: the same pins that tools/run_notebooks.py uses to write the outputs.
"""

import os
from pathlib import Path
from collections import defaultdict

from hypothesis import settings

from tools.run_notebooks import pin_kernel_environment

pin_kernel_environment()

# CI replays the same hypothesis examples on every run (a red CI is then a real regression, not a
# newly drawn example); locally every run explores new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

_notebook_seconds: dict[str, float] = defaultdict(float)


def pytest_collectstart(collector):
    # Library warnings on stderr are not part of a notebook's result; the static tests make sure
    # that no committed notebook carries stderr in the first place.
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)


def pytest_runtest_logreport(report):
    # Runs in the main process under pytest-xdist too: each notebook cell is one call report.
    if report.when == "call" and report.location[0].endswith(".ipynb"):
        _notebook_seconds[Path(report.location[0]).name] += report.duration


def pytest_terminal_summary(terminalreporter):
    if _notebook_seconds:
        terminalreporter.section("notebook execution time under nbval")
        for name, seconds in sorted(_notebook_seconds.items()):
            terminalreporter.write_line(f"{seconds:6.1f} s  {name}")
