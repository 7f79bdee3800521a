"""The import-linter contracts in pyproject.toml (no Qt in the engine or the CLI, the layers, an
engine without import cycles), checked on every test run; and proof that the cycle contract sees
imports hidden inside functions, the way the engine's cycles used to hide."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(cwd: Path, *args: str, pythonpath: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    return subprocess.run([str(LINT), "--no-cache", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


def test_every_contract_in_pyproject_is_kept():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert {c["type"] for c in contracts} >= {"forbidden", "layers", "acyclic_siblings"}
    out = lint(ROOT, pythonpath=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"Contracts: {len(contracts)} kept, 0 broken" in out.stdout


def _package(root: Path, a_imports_b_inside_a_function: bool) -> None:
    core = root / "demo" / "core"
    core.mkdir(parents=True)
    (root / "demo" / "__init__.py").write_text("")
    (core / "__init__.py").write_text("")
    (core / "b.py").write_text("from demo.core import a\n")
    body = "    from demo.core import b\n\n    return b\n" if a_imports_b_inside_a_function else "    return 1\n"
    (core / "a.py").write_text(f"def helper():\n{body}")
    (root / "contracts.toml").write_text(textwrap.dedent("""
        [tool.importlinter]
        root_package = "demo"

        [[tool.importlinter.contracts]]
        name = "acyclic"
        type = "acyclic_siblings"
        ancestors = ["demo.core"]
    """))


def test_the_cycle_contract_sees_an_import_inside_a_function(tmp_path):
    cyclic, acyclic = tmp_path / "cyclic", tmp_path / "acyclic"
    _package(cyclic, a_imports_b_inside_a_function=True)
    _package(acyclic, a_imports_b_inside_a_function=False)
    broken = lint(cyclic, "contracts.toml", pythonpath=cyclic)
    assert broken.returncode == 1 and "No cycles are allowed in demo.core" in broken.stdout, broken.stdout
    assert "- .b -> .a" in broken.stdout  # the import to remove, named
    kept = lint(acyclic, "contracts.toml", pythonpath=acyclic)
    assert kept.returncode == 0, kept.stdout + kept.stderr
