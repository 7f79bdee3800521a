"""Packaging: the .desktop entry validates, the icon exists in every size, and (opt-in) the real build."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ROOT / "packaging" / "model-playground.desktop"
ICONS = ROOT / "assets" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def test_desktop_entry_validates():
    validator = shutil.which("desktop-file-validate")
    if validator is None:
        pytest.skip("desktop-file-validate is not installed (Debian package desktop-file-utils)")
    result = subprocess.run([validator, str(DESKTOP)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in (result.stdout + result.stderr).lower()


def test_desktop_entry_points_at_the_app_and_icon():
    text = DESKTOP.read_text(encoding="utf-8")
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    assert fields["Exec"].split()[0] == "model-playground"
    assert fields["Icon"] == "model-playground"
    assert fields["StartupWMClass"] == "model-playground"  # matches QGuiApplication.setDesktopFileName
    assert "image/png" in fields["MimeType"] and "text/csv" in fields["MimeType"]


def test_desktop_entry_opens_files_of_every_type_the_drop_router_handles():
    import mimetypes

    from playground.core.imageio import IMAGE_SUFFIXES
    from playground.ui.drop_router import AUDIO_SUFFIXES, TABLE_SUFFIXES

    text = DESKTOP.read_text(encoding="utf-8")
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    assert fields["Exec"].split()[1:] == ["%F"]  # `playground FILE...`: routed like a drop
    listed = set(fields["MimeType"].rstrip(";").split(";"))
    builtin = mimetypes.MimeTypes()  # Python's own table only: the same on every machine
    for suffix in sorted(IMAGE_SUFFIXES | AUDIO_SUFFIXES | TABLE_SUFFIXES):
        mime, _ = builtin.guess_type(f"x{suffix}", strict=False)
        if mime and mime.split("/")[0] in ("image", "audio", "text"):
            assert mime in listed, suffix
    assert "inode/directory" in listed  # folders of images, audio or classes


def test_icon_svg_and_png_sizes(qapp):
    from PySide6.QtGui import QImage
    from PySide6.QtSvg import QSvgRenderer

    assert QSvgRenderer(str(ICONS / "model-playground.svg")).isValid()
    for size in SIZES:
        image = QImage(str(ICONS / f"model-playground-{size}.png"))
        assert (image.width(), image.height()) == (size, size), size
        assert image.hasAlphaChannel()
        # Recognisable: the centre pixel is the white play mark, the corners are transparent.
        assert image.pixelColor(size // 2, size // 2).lightness() > 200, size
        assert image.pixelColor(0, 0).alpha() == 0, size


def test_spec_collects_every_bundled_model_package():
    from playground.core.models import BUNDLED

    spec = (ROOT / "packaging" / "model-playground.spec").read_text(encoding="utf-8")
    for b in BUNDLED:
        assert f'"{b.module}"' in spec, b.module
        for source in b.joined.sources if b.joined is not None else ():  # a model in parts: every part's package
            assert f'"{source.module}"' in spec, source.module


@pytest.mark.slow
@pytest.mark.timeout(7200)
@pytest.mark.skipif(os.environ.get("PLAYGROUND_TEST_PACKAGING") != "1",
                    reason="the PyInstaller build takes many minutes: set PLAYGROUND_TEST_PACKAGING=1")
def test_build_and_start_the_frozen_app(tmp_path):
    t0 = time.monotonic()
    build = subprocess.run(["bash", str(ROOT / "packaging" / "build.sh")], cwd=ROOT, capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    print(f"build took {time.monotonic() - t0:.0f} s")
    check_frozen_app(ROOT / "dist" / "model-playground" / "model-playground", tmp_path)


def check_frozen_app(app: Path, home: Path) -> None:
    """What the built app must do: version, bundled models found inside it, the window opens and closes."""
    env = dict(os.environ, PLAYGROUND_HOME=str(home), QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1")
    version = subprocess.run([str(app), "--version"], capture_output=True, text=True, timeout=120, env=env)
    assert version.returncode == 0 and version.stdout.strip().startswith("playground ")
    # The bundled models are found inside the frozen app.
    listing = subprocess.run([str(app), "models", "--json"], capture_output=True, text=True, timeout=300, env=env)
    assert listing.returncode == 0, listing.stderr
    bundled = [e for e in json.loads(listing.stdout) if e["source"] == "bundled"]
    assert bundled and all(e["available"] for e in bundled), [e["id"] for e in bundled if not e["available"]]
    # A model shipped in parts is joined into the model cache, outside the app.
    assert all("_internal" in e["location"] for e in bundled if "joined" not in e["extra"])
    # torch loads inside the bundle.
    found = subprocess.run([str(app), "devices", "--json"], capture_output=True, text=True, timeout=300, env=env)
    assert found.returncode == 0 and json.loads(found.stdout)[-1]["type"] == "cpu", found.stderr[-2000:]
    # The window starts, paints and quits.
    gui = subprocess.run([str(app), "--quit-after-show"], capture_output=True, text=True, timeout=300, env=env)
    assert gui.returncode == 0, gui.stderr[-2000:]
    assert (home / "logs" / "playground.log").is_file()
