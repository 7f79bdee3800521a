"""The README's apt line installs every library the window needs on a fresh Debian desktop.

Issue 20: with exactly the README's packages the window did not open (Qt's xcb plugin needed
libxcb-icccm4 and libxcb-keysyms1). The list of libraries is derived here, not written down:
`ldd` of PySide6's xcb plugin, its GL integrations and the PySide6 modules the app imports, each
library's package from `dpkg -S`, and that package must be one the README's apt line installs
(named, or pulled in by a named package's dependencies, or part of every Debian system).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from playground.ui import platform_check

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("dpkg-query") is None or shutil.which("ldd") is None,
                                reason="not a Debian system (no dpkg-query or ldd): the README's apt line is Debian's")

# What the app imports at start and when each tab is built (plots, the picker, superqt widgets).
IMPORTS = ("playground.app, playground.ui.text_tab, playground.ui.image_tab, playground.ui.speech_tab, "
           "playground.ui.train_tab, pyqtgraph, superqt")


def readme_apt_packages() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"^sudo apt-get install (.+?)(?<!\\)$", text, flags=re.M | re.S)
    assert m, "the README has no 'sudo apt-get install' line"
    words = m.group(1).replace("\\\n", " ").split()
    return {w for w in words if not w.startswith("-")}


def qt_shared_objects() -> list[Path]:
    code = (f"import sys; import {IMPORTS}\n"
            "print('\\n'.join(m.__file__ for n, m in sys.modules.items() if n.startswith('PySide6.Qt') "
            "and getattr(m, '__file__', None)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"} | _python_env())
    assert out.returncode == 0, out.stderr[-2000:]
    modules = [Path(p) for p in out.stdout.split()]
    plugin = platform_check.xcb_plugin()
    assert plugin is not None, "PySide6 has no xcb platform plugin"
    return [plugin, *sorted((plugin.parent.parent / "xcbglintegrations").glob("*.so")), *modules]


def _python_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "HOME", "PLAYGROUND_HOME", "VIRTUAL_ENV")}


def system_libraries() -> dict[str, str]:
    """soname -> path, for every library outside the Python environment that those objects load."""
    found: dict[str, str] = {}
    for obj in qt_shared_objects():
        for soname, where in platform_check.ldd(obj).items():
            assert where is not None, f"{obj.name} needs {soname}, which is not installed here"
            if not where.startswith(sys.prefix) and "site-packages" not in where:
                found[soname] = where
    return found


def owners(paths: dict[str, str]) -> dict[str, str]:
    """soname -> Debian package, from `dpkg -S` (which records /lib or /usr/lib, whichever it was built with)."""
    candidates: dict[str, str] = {}
    for soname, path in paths.items():
        for p in {path, str(Path(path).resolve())}:
            for variant in (p, p.removeprefix("/usr"), "/usr" + p if not p.startswith("/usr") else p):
                candidates[variant] = soname
    out = subprocess.run(["dpkg-query", "-S", *candidates], capture_output=True, text=True).stdout
    result: dict[str, str] = {}
    for line in out.splitlines():
        package, _, path = line.partition(": ")
        if path in candidates:
            result[candidates[path]] = package.split(":")[0]
    return result


def installed_by(named: set[str]) -> set[str]:
    """The named packages, every Essential package, and all their (pre-)dependencies, as dpkg knows them."""
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Essential}\t${Pre-Depends}, ${Depends}\n"],
                         capture_output=True, text=True).stdout
    depends: dict[str, set[str]] = {}
    essential: set[str] = set()
    for line in out.splitlines():
        package, is_essential, deps = line.split("\t")
        if is_essential == "yes":
            essential.add(package)
        # "a (>= 1) | b, c:any" -> every alternative counts (apt picks one; all are acceptable)
        depends[package] = {re.split(r"[\s:(]", alt.strip())[0] for dep in deps.split(",") for alt in dep.split("|")
                            if alt.strip()}
    todo, seen = list(named | essential), set()
    while todo:
        package = todo.pop()
        if package not in seen:
            seen.add(package)
            todo.extend(depends.get(package, ()))
    return seen


def test_readme_apt_line_installs_every_library_qt_needs():
    libraries = system_libraries()
    package_of = owners(libraries)
    unowned = sorted(set(libraries) - set(package_of))
    assert not unowned, f"no Debian package owns {unowned}"
    covered = installed_by(readme_apt_packages())
    missing = sorted({package for package in package_of.values() if package not in covered})
    assert not missing, ("The README's apt line misses packages the window needs on a fresh desktop: "
                         + " ".join(missing))


def test_the_error_message_names_the_right_packages():
    """`playground` names the package of each missing library by Debian's soname rule: checked on
    every library Qt loads here against the package dpkg says it came from."""
    libraries = system_libraries()
    package_of = owners(libraries)
    wrong = {soname: (platform_check.debian_package(soname), package)
             for soname, package in package_of.items() if platform_check.debian_package(soname) != package}
    assert not wrong, wrong


def test_ci_installs_what_the_readme_names():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert not readme_apt_packages() - set(re.findall(r"[\w.+-]+", ci))
