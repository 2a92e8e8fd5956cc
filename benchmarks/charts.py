"""PNG bar charts (and a Markdown table) from the results JSON of ``run.py --json``.

    python3 benchmarks/charts.py RESULTS.json [--out docs/img/benchmarks] [--no-table]

Writes, into ``--out``:

- ``<scenario>.png`` for every scenario: the median of each client (req/s, or MB/s for
  the downloads), one horizontal bar per client, the value at the end of the bar;
- ``speedup.png``: the subject's same-repetition ratio to each other client (the ``ours``
  field of each row: httptransport / client, or httpx-httptransport / httpx-default), on
  a log scale around 1x, one bar per (scenario, client);
- ``cpu-<scenario>.png`` where the rows carry ``cpu_us`` (CPU microseconds per request:
  the worker process's CPU time, every thread, over the measured phase, divided by its
  requests; ``run.py`` records it for every client since it measures it).

A client named ``raw-socket`` (a bare socket loop, the limit no client can beat), if the
results have one, gets a bar of its own in grey. Then it prints a Markdown table of the
same numbers (with a CPU-per-request column when the rows have one).

Only the standard library: a minimal PNG writer (zlib + struct) and a built-in 5x7 pixel
font, upper case only. The same JSON gives byte-identical PNGs.
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

# -- PNG -------------------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(width: int, height: int, rgb: bytes) -> bytes:
    """A truecolour 8-bit PNG of ``rgb`` (``width * height * 3`` bytes, rows top down)."""
    stride = width * 3
    if len(rgb) != stride * height:
        raise ValueError(f"expected {stride * height} bytes of RGB, got {len(rgb)}")
    raw = b"".join(b"\x00" + rgb[y * stride : (y + 1) * stride] for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


# -- font: 5x7 pixels, each row 5 bits, most significant bit leftmost --------------------------

FONT: dict[str, tuple[int, ...]] = {
    " ": (0, 0, 0, 0, 0, 0, 0),
    "0": (0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E),
    "1": (0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E),
    "2": (0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F),
    "3": (0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E),
    "4": (0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02),
    "5": (0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E),
    "6": (0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E),
    "7": (0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08),
    "8": (0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E),
    "9": (0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C),
    "A": (0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11),
    "B": (0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E),
    "C": (0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E),
    "D": (0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C),
    "E": (0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F),
    "F": (0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10),
    "G": (0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F),
    "H": (0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11),
    "I": (0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E),
    "J": (0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C),
    "K": (0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11),
    "L": (0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F),
    "M": (0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11),
    "N": (0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11),
    "O": (0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E),
    "P": (0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10),
    "Q": (0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D),
    "R": (0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11),
    "S": (0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E),
    "T": (0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04),
    "U": (0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E),
    "V": (0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04),
    "W": (0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A),
    "X": (0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11),
    "Y": (0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04),
    "Z": (0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F),
    "-": (0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00),
    "+": (0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00),
    "=": (0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00),
    "_": (0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F),
    ".": (0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C),
    ",": (0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08),
    ":": (0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00),
    ";": (0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x04, 0x08),
    "/": (0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x10),
    "(": (0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02),
    ")": (0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08),
    "%": (0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03),
    "<": (0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02),
    ">": (0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08),
    "?": (0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04),
}
GLYPH_W, GLYPH_H = 5, 7

RGB = tuple[int, int, int]
WHITE: RGB = (255, 255, 255)
BLACK: RGB = (20, 20, 20)
GREY: RGB = (110, 110, 110)
LIGHT: RGB = (225, 225, 225)
RED: RGB = (190, 30, 30)
# One colour per client, the same in every chart; the subject is the strong blue.
COLOURS: dict[str, RGB] = {
    "httptransport": (33, 102, 172),
    "httpx-httptransport": (33, 102, 172),
    "httpcore": (230, 126, 34),
    "httpcore2": (190, 150, 40),
    "urllib3": (46, 139, 87),
    "aiohttp": (142, 68, 173),
    "httpx-default": (200, 90, 90),
    "pyreqwest": (0, 150, 150),
    "pycurl": (130, 95, 55),
    "raw-socket": (160, 160, 160),
}
OTHER: RGB = (120, 140, 160)
RAW_SOCKET = "raw-socket"


class Canvas:
    """An RGB bitmap with just what a bar chart needs."""

    def __init__(self, width: int, height: int, background: RGB = WHITE) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(background) * (width * height))

    def rect(self, x: int, y: int, w: int, h: int, colour: RGB) -> None:
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, self.width), min(y + h, self.height)
        if x1 <= x0 or y1 <= y0:
            return
        row = bytes(colour) * (x1 - x0)
        for yy in range(y0, y1):
            start = (yy * self.width + x0) * 3
            self.pixels[start : start + len(row)] = row

    def text(self, x: int, y: int, s: str, colour: RGB = BLACK, scale: int = 2) -> int:
        """Draw ``s`` (upper-cased) with its top left at (x, y); return the x after it."""
        for ch in s.upper():
            glyph = FONT.get(ch, FONT["?"])
            for gy, bits in enumerate(glyph):
                for gx in range(GLYPH_W):
                    if bits & (1 << (GLYPH_W - 1 - gx)):
                        self.rect(x + gx * scale, y + gy * scale, scale, scale, colour)
            x += (GLYPH_W + 1) * scale
        return x

    def png(self) -> bytes:
        return encode_png(self.width, self.height, bytes(self.pixels))


def text_width(s: str, scale: int = 2) -> int:
    return len(s) * (GLYPH_W + 1) * scale - scale if s else 0


# -- numbers ---------------------------------------------------------------------------------


def fmt_value(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def fmt_ratio(ratio: float) -> str:
    return f"{ratio:,.0f}x" if ratio >= 100 else f"{ratio:.2f}x"


def fmt_tick(value: float) -> str:
    if value >= 1000 and value % 1000 == 0:
        return f"{value / 1000:,.0f}k"
    return f"{value:g}"


def nice_step(top: float, ticks: int = 5) -> float:
    """A 1, 2 or 5 times a power of ten that splits 0..top into about ``ticks`` parts."""
    if top <= 0:
        return 1.0
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if mult * power >= raw:
            return float(mult * power)
    return float(10 * power)  # pragma: no cover


# -- charts ----------------------------------------------------------------------------------

SCALE = 2
LINE = (GLYPH_H + 4) * SCALE  # one line of text
BAR_H, BAR_GAP = 24, 12
MARGIN = 16


def bar_chart(
    title: str,
    subtitle: str,
    bars: Sequence[tuple[str, float | None, str]],
    highlight: str | None = None,
    width: int = 900,
) -> Canvas:
    """Horizontal bars from 0: ``(label, value or None, text at the bar's end)``."""
    width = max(width, text_width(title) + 2 * MARGIN, text_width(subtitle) + 2 * MARGIN)
    label_w = max([text_width(label) for label, _, _ in bars] + [0]) + 2 * MARGIN
    end_w = max([text_width(t) for _, _, t in bars] + [0]) + MARGIN
    x0 = label_w
    span = max(width - x0 - end_w - MARGIN, 100)
    top_y = MARGIN + 2 * LINE + MARGIN
    height = top_y + len(bars) * (BAR_H + BAR_GAP) + LINE + 2 * MARGIN
    c = Canvas(width, height)
    c.text(MARGIN, MARGIN, title, BLACK)
    c.text(MARGIN, MARGIN + LINE, subtitle, GREY)

    top = max([v for _, v, _ in bars if v is not None] + [0.0])
    step = nice_step(top)
    axis_max = step * max(math.ceil(top / step), 1)
    axis_y = top_y + len(bars) * (BAR_H + BAR_GAP)
    tick = 0.0
    while tick <= axis_max + step / 2:
        tx = x0 + round(tick / axis_max * span)
        c.rect(tx, top_y - BAR_GAP // 2, 1, axis_y - top_y + BAR_GAP // 2, LIGHT)
        label = fmt_tick(tick)
        c.text(tx - text_width(label) // 2, axis_y + 6, label, GREY)
        tick += step
    c.rect(x0, top_y - BAR_GAP // 2, 2, axis_y - top_y + BAR_GAP // 2, BLACK)
    c.rect(x0, axis_y, span + 1, 2, BLACK)

    for i, (label, value, end_text) in enumerate(bars):
        y = top_y + i * (BAR_H + BAR_GAP)
        text_y = y + (BAR_H - GLYPH_H * SCALE) // 2
        c.text(x0 - MARGIN - text_width(label), text_y, label, BLACK)
        if value is None:
            c.text(x0 + MARGIN, text_y, end_text, RED)
            continue
        w = max(round(value / axis_max * span), 1)
        colour = COLOURS.get(label.lower(), OTHER)
        c.rect(x0 + 2, y, w, BAR_H, colour)
        if label.lower() == highlight:
            c.rect(x0 + 2, y + BAR_H, w, 2, BLACK)
        c.text(x0 + 2 + w + 8, text_y, end_text, BLACK)
    return c


def log_ratio_chart(
    title: str, subtitle: str, bars: Sequence[tuple[str, str, float]], width: int = 900
) -> Canvas:
    """Bars from 1x on a log scale: ``(label, client for the colour, ratio)``."""
    width = max(width, text_width(title) + 2 * MARGIN, text_width(subtitle) + 2 * MARGIN)
    label_w = max([text_width(label) for label, _, _ in bars] + [0]) + 2 * MARGIN
    logs = [math.log10(r) for _, _, r in bars if r > 0]
    lo = math.floor(min([*logs, 0.0]) * 2) / 2 if logs else -0.5
    hi = math.ceil(max([*logs, 0.0]) * 2) / 2 if logs else 0.5
    lo, hi = min(lo, -0.5), max(hi, 0.5)
    room = text_width("999x") + MARGIN  # the ratio's text beyond the longest bars
    x0 = label_w + room
    span = max(width - x0 - room - MARGIN, 100)

    def x_of(log: float) -> int:
        return x0 + round((log - lo) / (hi - lo) * span)

    top_y = MARGIN + 2 * LINE + MARGIN
    height = top_y + len(bars) * (BAR_H + BAR_GAP) + LINE + 2 * MARGIN
    c = Canvas(width, height)
    c.text(MARGIN, MARGIN, title, BLACK)
    c.text(MARGIN, MARGIN + LINE, subtitle, GREY)
    axis_y = top_y + len(bars) * (BAR_H + BAR_GAP)
    # 1x, 2x, 5x per decade where there is room for their labels, else 1x and 10x only.
    mults = (1, 2, 5) if span / (hi - lo) >= 220 else (1,)
    exp = math.floor(lo)
    while exp <= hi:
        for mult in mults:
            log = exp + math.log10(mult)
            if lo - 1e-9 <= log <= hi + 1e-9:
                tx = x_of(log)
                c.rect(tx, top_y - BAR_GAP // 2, 1, axis_y - top_y + BAR_GAP // 2, LIGHT)
                label = f"{10**log:g}x"
                c.text(tx - text_width(label) // 2, axis_y + 6, label, GREY)
        exp += 1
    one = x_of(0.0)
    c.rect(x0, axis_y, span + 1, 2, BLACK)

    for i, (label, client, ratio) in enumerate(bars):
        y = top_y + i * (BAR_H + BAR_GAP)
        text_y = y + (BAR_H - GLYPH_H * SCALE) // 2
        c.text(label_w - MARGIN - text_width(label), text_y, label, BLACK)
        end = x_of(math.log10(ratio)) if ratio > 0 else x0
        colour = COLOURS.get(client, OTHER)
        text = fmt_ratio(ratio)
        if end >= one:
            c.rect(one, y, max(end - one, 1), BAR_H, colour)
            c.text(max(end, one) + 8, text_y, text, BLACK)
        else:
            c.rect(end, y, one - end, BAR_H, colour)
            c.text(end - 8 - text_width(text), text_y, text, BLACK)
    c.rect(one, top_y - BAR_GAP // 2, 2, axis_y - top_y + BAR_GAP // 2, BLACK)
    return c


# -- results ---------------------------------------------------------------------------------


def scenarios(results: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The rows grouped by scenario, in the order of the JSON."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in results["rows"]:
        grouped.setdefault(row["scenario"], []).append(row)
    return grouped


def _status_text(row: dict[str, Any]) -> str:
    status = str(row.get("status", "ok"))
    if status.startswith("unavailable"):
        return "unavailable"
    return "FAILED" if row.get("median") is None else ""


def _subject(rows: Iterable[dict[str, Any]]) -> str | None:
    """The client every other one is compared with: the row whose ``ours`` is None."""
    candidates = [r["client"] for r in rows if r.get("ours") is None and r.get("median")]
    for name in ("httptransport", "httpx-httptransport"):
        if name in candidates:
            return name
    return candidates[0] if candidates else None


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The subject first, the raw-socket limit last, the rest as the JSON has them."""
    subject = _subject(rows)
    return sorted(
        rows, key=lambda r: (r["client"] != subject, r["client"] == RAW_SOCKET)
    )  # sorted() is stable: ties keep the JSON's order


def scenario_chart(key: str, rows: list[dict[str, Any]], header: str) -> Canvas:
    unit = rows[0].get("unit", "req/s")
    bars = []
    for row in _ordered(rows):
        median = row.get("median")
        text = fmt_value(median) if median is not None else _status_text(row)
        bars.append((row["client"], median, text))
    title = f"{key}: {unit}, median (higher is better)"
    return bar_chart(title, header, bars, highlight=_subject(rows))


def cpu_chart(key: str, rows: list[dict[str, Any]], header: str) -> Canvas:
    bars = []
    for row in _ordered(rows):
        cpu = row.get("cpu_us")
        bars.append((row["client"], cpu, fmt_value(cpu) if cpu is not None else "no data"))
    title = f"{key}: CPU per request, us (lower is better)"
    return bar_chart(title, header, bars, highlight=_subject(rows))


def run_label(results: dict[str, Any]) -> str | None:
    """``run.py --label``'s text: what the header has before "python ...", if anything."""
    first = str(results.get("header", "")).split(",")[0].strip()
    return first if first and not first.startswith("python") else None


def speedup_chart(results: dict[str, Any]) -> Canvas | None:
    bars = []
    for key, rows in scenarios(results).items():
        short = key.split("-")[0]
        for row in rows:
            if row.get("ours") and row["client"] != RAW_SOCKET:
                bars.append((f"{short} {row['client']}", row["client"], float(row["ours"])))
    if not bars:
        return None
    label = run_label(results)
    return log_ratio_chart(
        "httptransport / each client, same repetition" + (f" ({label})" if label else ""),
        "median ratio, log scale; right of 1x: we are faster",
        bars,
    )


def short_header(results: dict[str, Any]) -> str:
    """The run's header without the core pinning: python, cores, timing."""
    header = str(results.get("header", ""))
    parts = [p.strip() for p in header.replace(";", ",").split(",")]
    return ", ".join(p for p in parts if p and "cpu=" not in p)


def render_all(results: dict[str, Any], out: Path) -> list[Path]:
    """Write every chart into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    header = short_header(results)
    written = []
    charts: list[tuple[str, Canvas | None]] = []
    for key, rows in scenarios(results).items():
        charts.append((f"{key}.png", scenario_chart(key, rows, header)))
        if any(r.get("cpu_us") is not None for r in rows):
            charts.append((f"cpu-{key}.png", cpu_chart(key, rows, header)))
    charts.append(("speedup.png", speedup_chart(results)))
    for name, canvas in charts:
        if canvas is None:
            continue
        path = out / name
        path.write_bytes(canvas.png())
        written.append(path)
    return written


def markdown_table(results: dict[str, Any]) -> str:
    with_cpu = any(r.get("cpu_us") is not None for r in results["rows"])
    lines = [
        "| scenario | client | median | httptransport / client | ratio to baseline | range |"
        + (" CPU per request |" if with_cpu else ""),
        "| --- | --- | ---: | ---: | ---: | ---: |" + (" ---: |" if with_cpu else ""),
    ]
    for key, rows in scenarios(results).items():
        for row in _ordered(rows):
            median = row.get("median")
            unit = row.get("unit", "req/s")
            value = f"{fmt_value(median)} {unit}" if median is not None else _status_text(row)
            ours = fmt_ratio(row["ours"]) if row.get("ours") else "-"
            ratio = fmt_ratio(row["ratio"]) if row.get("ratio") else "-"
            rng = row.get("ratio_range")
            spread = "-"
            if rng and row.get("ratio") != 1.0:
                spread = f"{fmt_ratio(rng[0])[:-1]}-{fmt_ratio(rng[1])}"
            line = f"| {key} | {row['client']} | {value} | {ours} | {ratio} | {spread} |"
            if with_cpu:
                cpu = row.get("cpu_us")
                line += f" {fmt_value(cpu)} us |" if cpu is not None else " - |"
            lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("results", type=Path, help="JSON written by run.py --json")
    p.add_argument("--out", type=Path, default=Path("docs/img/benchmarks"))
    p.add_argument("--no-table", action="store_true", help="don't print the Markdown table")
    args = p.parse_args(argv)
    results = json.loads(args.results.read_text())
    for path in render_all(results, args.out):
        print(f"wrote {path}", file=sys.stderr)
    if not args.no_table:
        print(markdown_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
