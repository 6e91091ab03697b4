"""The install recipe: one list of packages, exactly pinned, covering every import."""

import ast
import importlib.metadata as md
import re
import sys
from pathlib import Path

import nbformat
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def requirements() -> dict[str, Requirement]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    reqs = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    return {r.name.lower(): r for r in reqs}


def test_requirements_are_exact_pins():
    for name, req in requirements().items():
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{name}: pin it exactly (==)"


def test_environment_yml_pulls_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert set(env) <= {"name", "channels", "dependencies", "variables"}
    assert "conda-forge" in env["channels"] and "defaults" not in env["channels"]
    deps = env["dependencies"]
    assert any(re.fullmatch(r"python=3\.\d+", d) for d in deps if isinstance(d, str))
    assert "pip" in deps, "a pip: block needs pip itself as a conda dependency"
    (pip_block,) = [d["pip"] for d in deps if isinstance(d, dict)]
    assert "-r requirements.txt" in pip_block, "environment.yml must pull requirements.txt"


def imported_modules() -> set[str]:
    """Top-level modules imported by the notebooks and by the .py files of the project."""
    sources = [p.read_text() for d in ("helpers", "tools", "benchmarks", "tests", "data")
               for p in (ROOT / d).glob("*.py")]
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        sources.append("\n".join(l for l in code.splitlines() if not l.lstrip().startswith(("%", "!"))))
    names = set()
    for src in sources:
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"helpers", "tools", "tests", "__future__"}


def test_every_import_is_a_pinned_requirement():
    dists = md.packages_distributions()
    pinned = set(requirements())
    for module in sorted(imported_modules()):
        owners = {d.lower() for d in dists.get(module, [])}
        assert owners & pinned, f"'import {module}' is not covered by requirements.txt ({owners})"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme
    assert re.search(r"^make test$", (ROOT / ".ci/run").read_text(), re.M)
