"""When Qt's platform plugin cannot load, say why in one sentence, with the command that fixes it.

Qt's own message on a fresh Linux desktop names the wrong library ("xcb-cursor0 or
libxcb-cursor0 is needed") whatever is really missing, and then aborts. Here a Qt message
handler, installed only while the QApplication is being created, holds Qt's platform lines
back; if Qt gives up (its fatal message), `ldd` of the xcb plugin names the libraries that are
really missing and the Debian packages that carry them. Nothing runs on a good start.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from PySide6.QtCore import QtMsgType, qInstallMessageHandler

# Debian names a library package after its soname (libfoo.so.3 -> libfoo3, libfoo2.so.0 -> libfoo2-0);
# these few do not follow the rule.
SONAME_PACKAGES = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libgmodule-2.0.so.0": "libglib2.0-0",
    "libgio-2.0.so.0": "libglib2.0-0",
    "libstdc++.so.6": "libstdc++6",
    "libgcc_s.so.1": "libgcc-s1",
    "libz.so.1": "zlib1g",
    "libc.so.6": "libc6",
    "libm.so.6": "libc6",
    "libdl.so.2": "libc6",
    "libpthread.so.0": "libc6",
    "librt.so.1": "libc6",
    "libresolv.so.2": "libc6",
    "libpng16.so.16": "libpng16-16",
    "libpcre2-8.so.0": "libpcre2-8-0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libOpenGL.so.0": "libopengl0",
    "libGLdispatch.so.0": "libglvnd0",
    "libbrotlidec.so.1": "libbrotli1",
    "libbrotlicommon.so.1": "libbrotli1",
}


def debian_package(soname: str) -> str:
    """The Debian package that ships a library, by Debian's naming rule for library packages."""
    if soname in SONAME_PACKAGES:
        return SONAME_PACKAGES[soname]
    m = re.fullmatch(r"(lib[\w+.-]+?)\.so\.(\d+)", soname)
    if not m:
        return soname
    name, version = m.group(1).lower().replace("_", "-"), m.group(2)
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def xcb_plugin() -> Path | None:
    """PySide6's xcb platform plugin, if this PySide6 has one (Linux wheels do)."""
    import PySide6

    path = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return path if path.is_file() else None


def ldd(path: Path) -> dict[str, str | None]:
    """soname -> resolved path (None where `ldd` says "not found") for a shared object and all it loads."""
    import shutil
    import subprocess  # (only on a failed start, or in the tests: not worth its import at every start)

    if shutil.which("ldd") is None:
        return {}
    out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, timeout=30).stdout
    found: dict[str, str | None] = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+)\s+=>\s+(not found|\S+)", line)
        if m:
            found[m.group(1)] = None if m.group(2) == "not found" else m.group(2)
    return found


def missing_libraries(plugin: Path | None = None) -> list[str]:
    plugin = plugin or xcb_plugin()
    return sorted(name for name, where in ldd(plugin).items() if where is None) if plugin else []


def explain(missing: list[str], display: str | None) -> str:
    """The one sentence `playground` prints when the window cannot open."""
    if missing:
        packages = sorted({debian_package(name) for name in missing})
        return (f"The window cannot open: Qt's xcb platform plugin needs {', '.join(missing)}, which "
                f"{'is' if len(missing) == 1 else 'are'} not installed; install "
                f"{'it' if len(packages) == 1 else 'them'} with: sudo apt-get install {' '.join(packages)}")
    if not display and not os.environ.get("WAYLAND_DISPLAY"):
        return ("The window cannot open: no display was found (DISPLAY is not set); run it on a desktop, "
                "or set QT_QPA_PLATFORM=offscreen to run without one.")
    return (f"The window cannot open: Qt found no usable platform plugin for the display {display or ''} "
            "(run with QT_DEBUG_PLUGINS=1 for Qt's own details).")


class PlatformGuard:
    """`with PlatformGuard(): QApplication(...)`: Qt's platform lines are held back while the
    application is created; a fatal one is replaced by `explain(...)` and exit code 1."""

    def __init__(self, stream=None):
        self._stream = stream or sys.stderr
        self._held: list[str] = []
        self._previous = None

    def _handler(self, kind, context, message: str) -> None:
        if kind == QtMsgType.QtFatalMsg:
            self._stream.write(explain(missing_libraries(), os.environ.get("DISPLAY")) + "\n")
            if os.environ.get("QT_DEBUG_PLUGINS"):
                self._stream.write("\n".join([*self._held, message]) + "\n")
            self._stream.flush()
            os._exit(1)  # Qt would abort() next: a core dump for a missing package
        category = getattr(context, "category", None)
        self._held.append(f"{category}: {message}" if category and category != "default" else message)

    def __enter__(self):
        self._previous = qInstallMessageHandler(self._handler)
        return self

    def __exit__(self, *exc) -> None:
        qInstallMessageHandler(self._previous)
        # The window opened: Qt's lines were warnings only, pass them on as Qt would have.
        for line in self._held:
            self._stream.write(line + "\n")
