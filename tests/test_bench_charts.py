"""benchmarks/charts.py: valid, deterministic PNGs; docs/benchmarks.md's images exist."""

from __future__ import annotations

import importlib.util
import re
import struct
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _load_charts() -> ModuleType:
    # benchmarks/ is not a package and not on the path: load the script by its file name.
    spec = importlib.util.spec_from_file_location("bench_charts", ROOT / "benchmarks" / "charts.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


charts = _load_charts()


def _row(scenario: str, client: str, median: float | None, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "scenario": scenario,
        "client": client,
        "unit": "MB/s" if scenario.startswith("e") else "req/s",
        "failures": 0,
        "status": "ok",
        "median": median,
        "ratio": None,
        "ours": None,
    }
    row.update(extra)
    return row


RESULTS: dict[str, Any] = {
    "header": "python 3.11.7, 2 cores, nginx cpu=0 client cpu=1; 5 reps x (0.1s + 0.25s)",
    "versions": {"httpcore": "1.0.9"},
    "rows": [
        _row("a-sync-keepalive", "httpcore", 2000.0, ratio=1.0, ours=2.5, cpu_us=410.0),
        _row("a-sync-keepalive", "httptransport", 5000.0, ratio=2.5, cpu_us=150.0),
        _row("a-sync-keepalive", "urllib3", 2500.0, ratio=1.25, ours=2.0, cpu_us=300.0),
        _row("a-sync-keepalive", "raw-socket", 9000.0, ratio=4.5, ours=0.55),
        _row("e2-asyncio-16mib", "httptransport", 900.0, ratio=2.0),
        _row("e2-asyncio-16mib", "httpcore", 450.0, ratio=1.0, ours=2.0),
        _row("e2-asyncio-16mib", "aiohttp", 1100.0, ratio=2.4, ours=0.8),
        _row("e2-asyncio-16mib", "httpcore2", None, failures=3, status="FAILED: boom"),
        _row("h-httpx", "httpx-httptransport", 2800.0, ratio=3.9),
        _row("h-httpx", "httpx-default", 720.0, ratio=1.0, ours=3.9),
        _row("h-httpx", "urllib3", None, status="unavailable: not installed"),
    ],
}


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, found = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        found.append((kind, body))
        pos += 12 + length
    assert pos == len(data)
    return found


def _check_png(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the filtered rows, after checking the PNG's structure."""
    chunks = _chunks(data)
    kinds = [k for k, _ in chunks]
    assert kinds[0] == b"IHDR"
    assert kinds[-1] == b"IEND"
    assert b"IDAT" in kinds
    width, height, depth, colour, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour, comp, filt, interlace) == (8, 2, 0, 0, 0)
    assert 0 < width <= 4000
    assert 0 < height <= 4000
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(raw) == height * (1 + 3 * width)
    assert all(raw[y * (1 + 3 * width)] == 0 for y in range(height))  # filter byte 0
    return width, height, raw


def test_encode_png_round_trip() -> None:
    pixels = bytes(range(2 * 3 * 3)) * 1  # 3 x 2 pixels
    data = charts.encode_png(3, 2, pixels)
    width, height, raw = _check_png(data)
    assert (width, height) == (3, 2)
    assert raw == b"\x00" + pixels[:9] + b"\x00" + pixels[9:]


def test_charts_are_valid_and_deterministic(tmp_path: Path) -> None:
    first = charts.render_all(RESULTS, tmp_path / "one")
    second = charts.render_all(RESULTS, tmp_path / "two")
    names = sorted(p.name for p in first)
    assert names == sorted(
        [
            "a-sync-keepalive.png",
            "cpu-a-sync-keepalive.png",
            "e2-asyncio-16mib.png",
            "h-httpx.png",
            "speedup.png",
        ]
    )
    for one, two in zip(sorted(first), sorted(second), strict=True):
        data = one.read_bytes()
        assert data == two.read_bytes(), one.name
        _width, height, raw = _check_png(data)
        # Something was drawn: not every pixel is the background.
        assert raw.count(b"\xff") < len(raw) - height


def test_every_bar_and_text_is_drawn() -> None:
    canvas = charts.scenario_chart(
        "a-sync-keepalive", RESULTS["rows"][:4], charts.short_header(RESULTS)
    )
    pixels = bytes(canvas.pixels)
    for client in ("httptransport", "httpcore", "urllib3", "raw-socket"):
        assert bytes(charts.COLOURS[client]) in pixels, client
    assert "cpu=" not in charts.short_header(RESULTS)


def test_markdown_table() -> None:
    table = charts.markdown_table(RESULTS)
    assert "| a-sync-keepalive | httptransport | 5,000 req/s | - | 2.50x |" in table
    assert "| e2-asyncio-16mib | httpcore2 | FAILED |" in table
    assert "| h-httpx | urllib3 | unavailable |" in table
    # The subject first in every scenario, the raw-socket limit last.
    a_rows = [line.split(" | ")[1] for line in table.splitlines() if "a-sync" in line]
    assert a_rows[0] == "httptransport"
    assert a_rows[-1] == "raw-socket"


def test_font_covers_the_labels() -> None:
    for text in ("HTTPX-HTTPTRANSPORT", "0123456789", "REQ/S (1.5X): 10,000 + 2%"):
        assert all(ch in charts.FONT for ch in text)
    assert all(len(g) == 7 and all(0 <= r < 32 for r in g) for g in charts.FONT.values())


def test_docs_images_exist() -> None:
    page = (ROOT / "docs" / "benchmarks.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\((img/benchmarks/[^)\s]+\.png)\)", page)
    assert images, "docs/benchmarks.md shows no chart"
    for image in images:
        path = ROOT / "docs" / image
        assert path.is_file(), image
        _check_png(path.read_bytes())
