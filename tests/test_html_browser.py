"""The history page in a real browser: headless Chromium renders it, styled, with the failure in red.

Needs Debian's Chromium (``apt-get install -y chromium``; the Makefile installs it). Without it
these tests fail, they do not skip: a page that no browser has drawn is not tested.
"""

from __future__ import annotations

import re
import struct
import subprocess
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import test_html
from tests.test_html import Execution, simulate

CHROMIUM = Path("/usr/bin/chromium")
WINDOW = (1400, 1800)
FAILED_RED = (0xD1, 0x32, 0x12)  # --red: the failed state's fill (and the FAILED pill)
SUCCEEDED_GREEN = (0xE3, 0xF4, 0xDC)  # --okbg: a succeeded state's fill
WHITE = (0xFF, 0xFF, 0xFF)
offline = test_html.offline  # the simulator's fake credentials, module-scoped (a fixture)


def require_chromium() -> None:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is not installed: the HTML history page is checked in headless Chromium. "
            "Install it with: apt-get install -y chromium",
            pytrace=False,
        )


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[bytes]:
    require_chromium()
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done


# --- reading a PNG with the standard library -------------------------------------------------------
@dataclass
class Image:
    width: int
    height: int
    colours: Counter[tuple[int, int, int]]

    def count(self, colour: tuple[int, int, int], tolerance: int = 10) -> int:
        return sum(
            n
            for c, n in self.colours.items()
            if all(abs(a - b) <= tolerance for a, b in zip(c, colour, strict=True))
        )

    @property
    def pixels(self) -> int:
        return self.width * self.height


def read_png(data: bytes) -> Image:
    """An 8-bit RGB(A), non-interlaced PNG (what Chromium writes): size and colour histogram."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, compressed = 8, bytearray()
    width = height = channels = 0
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert (depth, interlace) == (8, 0)
            channels = {2: 3, 6: 4}[colour_type]
        elif kind == b"IDAT":
            compressed += body
    raw = zlib.decompress(bytes(compressed))
    stride = width * channels
    previous = bytearray(stride)
    colours: Counter[tuple[int, int, int]] = Counter()
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        unfilter(kind, line, previous, channels)
        colours.update(zip(line[0::channels], line[1::channels], line[2::channels], strict=True))
        previous = line
    return Image(width, height, colours)


def unfilter(kind: int, line: bytearray, above: bytearray, bpp: int) -> None:
    if kind == 1:  # Sub
        for i in range(bpp, len(line)):
            line[i] = (line[i] + line[i - bpp]) & 255
    elif kind == 2:  # Up
        line[:] = bytes((a + b) & 255 for a, b in zip(line, above, strict=True))
    elif kind == 3:  # Average
        for i in range(len(line)):
            left = line[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + (left + above[i]) // 2) & 255
    elif kind == 4:  # Paeth
        for i in range(len(line)):
            a = line[i - bpp] if i >= bpp else 0
            b = above[i]
            c = above[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    else:
        assert kind == 0, f"PNG filter {kind}"


# --- the pages, drawn ------------------------------------------------------------------------------
@dataclass
class Rendered:
    page: Path
    image: Image
    png_bytes: int
    dom: str


def render(execution: Execution, folder: Path, name: str) -> Rendered:
    page = folder / f"{name}.html"
    page.write_text(execution.page().html, encoding="utf-8")
    png = folder / f"{name}.png"
    chromium(
        f"--screenshot={png}", f"--window-size={WINDOW[0]},{WINDOW[1]}", page.as_uri(), profile=folder / "p1"
    )
    dom = chromium("--dump-dom", page.as_uri(), profile=folder / "p2").stdout.decode("utf-8")
    return Rendered(page, read_png(png.read_bytes()), png.stat().st_size, dom)


@pytest.fixture(scope="module")
def failed(offline: None, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    require_chromium()  # before simulating
    return render(simulate("access-denied.yaml"), tmp_path_factory.mktemp("failed"), "failed")


@pytest.fixture(scope="module")
def drained(offline: None, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    require_chromium()
    return render(simulate("default.yaml"), tmp_path_factory.mktemp("drained"), "drained")


def test_chromium_is_installed() -> None:
    require_chromium()
    version = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, timeout=60, check=True)
    assert b"Chromium" in version.stdout


@pytest.mark.parametrize("name", ["failed", "drained"])
def test_chromium_draws_the_page_styled_not_blank(name: str, request: pytest.FixtureRequest) -> None:
    rendered: Rendered = request.getfixturevalue(name)
    image = rendered.image
    assert (image.width, image.height) == WINDOW
    assert rendered.png_bytes > 20_000
    assert len(image.colours) > 200  # text, boxes and edges: not one colour
    assert image.count(WHITE, tolerance=0) < 0.9 * image.pixels
    assert image.count((0x23, 0x2F, 0x3E), tolerance=2) > 50_000  # the dark header bar: the CSS applied
    assert image.count(SUCCEEDED_GREEN, tolerance=4) > 5_000  # succeeded states, filled green


def test_the_failed_state_is_drawn_red(failed: Rendered, drained: Rendered) -> None:
    # the failed state's box (and the FAILED pill) are red; the drained page has only the
    # legend's swatch of that red
    assert failed.image.count(FAILED_RED) > 4_000
    assert drained.image.count(FAILED_RED) < 1_000
    assert drained.image.count(SUCCEEDED_GREEN, tolerance=4) > failed.image.count(
        SUCCEEDED_GREEN, tolerance=4
    )


def test_the_dom_chromium_built_marks_the_failed_state(failed: Rendered, drained: Rendered) -> None:
    node = re.search(
        r'<g class="node n-failed"[^>]*data-state="DeregisterTargets"[^>]*>(.*?)</g>', failed.dom, re.S
    )
    assert node, "no failed DeregisterTargets node in the DOM"
    assert "✗ failed here" in node.group(1)
    assert 'data-result="failed"' not in drained.dom
    assert "✗ failed here" not in drained.dom
    assert 'data-state="Drained" data-result="succeeded"' in drained.dom
    for dom in (failed.dom, drained.dom):
        assert "</svg>" in dom
        assert 'id="visit-1"' in dom
