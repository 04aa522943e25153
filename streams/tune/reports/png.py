"""A chart as a PNG, drawn at twice its size: rectangles, lines, a bitmap font, zlib.

No imaging library: the shapes are few and simple, and the PNG format needs only zlib and a
CRC, which the standard library has.
"""

from __future__ import annotations

import struct
import zlib

from streams.tune.reports.chart import Chart, Line, Polyline, Rect, Shape, Text
from streams.tune.reports.font import GLYPH_HEIGHT, GLYPH_WIDTH, glyph

SCALE = 2
_BACKGROUND = (0xFA, 0xFA, 0xFA)
_DASH, _GAP = 6, 4


def to_png(chart: Chart) -> bytes:
    canvas = _Canvas(chart.width * SCALE, chart.height * SCALE)
    for shape in chart.shapes:
        _draw(canvas, shape)
    return canvas.encode()


def _rgb(colour: str) -> tuple[int, int, int]:
    value = int(colour.lstrip("#"), 16)
    return value >> 16, (value >> 8) & 0xFF, value & 0xFF


def _draw(canvas: _Canvas, shape: Shape) -> None:
    s = SCALE
    if isinstance(shape, Rect):
        canvas.fill(round(shape.x * s), round(shape.y * s), round(shape.width * s),
                    round(shape.height * s), _rgb(shape.colour), shape.opacity)
    elif isinstance(shape, Line):
        canvas.line(shape.x1 * s, shape.y1 * s, shape.x2 * s, shape.y2 * s, _rgb(shape.colour),
                    max(1, round(shape.width * s)), shape.dashed)
    elif isinstance(shape, Polyline):
        width = max(1, round(shape.width * s))
        for (x1, y1), (x2, y2) in zip(shape.points, shape.points[1:], strict=False):
            canvas.line(x1 * s, y1 * s, x2 * s, y2 * s, _rgb(shape.colour), width, False)
    elif isinstance(shape, Text):
        _text(canvas, shape)


def _text(canvas: _Canvas, text: Text) -> None:
    """Bitmap glyphs, scaled so that a 12-px font is 14 px tall at twice the size."""
    pixel = max(1, round(text.size * SCALE / (GLYPH_HEIGHT + 5)))
    advance = (GLYPH_WIDTH + 1) * pixel
    width = advance * len(text.text)
    x = round(text.x * SCALE) - {"start": 0, "middle": width // 2, "end": width}[text.anchor]
    top = round(text.y * SCALE) - GLYPH_HEIGHT * pixel
    colour = _rgb(text.colour)
    for char in text.text:
        for row, bits in enumerate(glyph(char)):
            for column in range(GLYPH_WIDTH):
                if bits & (16 >> column):
                    canvas.fill(x + column * pixel, top + row * pixel, pixel, pixel, colour)
        x += advance


class _Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(_BACKGROUND) * (width * height))

    def fill(self, x: int, y: int, width: int, height: int, colour: tuple[int, int, int],
             opacity: float = 1.0) -> None:
        left, right = max(0, x), min(self.width, x + width)
        top, bottom = max(0, y), min(self.height, y + height)
        if left >= right or top >= bottom:
            return
        if opacity >= 1.0:
            run = bytes(colour) * (right - left)
            for row in range(top, bottom):
                start = 3 * (row * self.width + left)
                self.pixels[start:start + len(run)] = run
            return
        # Blend channel by channel through lookup tables: bytes.translate runs in C.
        tables = [bytes(round(v + (c - v) * opacity) for v in range(256)) for c in colour]
        for row in range(top, bottom):
            start = 3 * (row * self.width + left)
            end = start + 3 * (right - left)
            for channel, table in enumerate(tables):
                lane = slice(start + channel, end, 3)
                self.pixels[lane] = self.pixels[lane].translate(table)

    def line(self, x1: float, y1: float, x2: float, y2: float, colour: tuple[int, int, int],
             width: int, dashed: bool) -> None:
        """A straight line of square dots, one per pixel step along its longer axis."""
        steps = max(1, round(max(abs(x2 - x1), abs(y2 - y1))))
        half = width // 2
        period = (_DASH + _GAP) * SCALE
        for step in range(steps + 1):
            if dashed and step % period >= _DASH * SCALE:
                continue
            x = round(x1 + (x2 - x1) * step / steps)
            y = round(y1 + (y2 - y1) * step / steps)
            self.fill(x - half, y - half, width, width, colour)

    def encode(self) -> bytes:
        stride = 3 * self.width
        raw = b"".join(b"\x00" + bytes(self.pixels[row * stride:(row + 1) * stride])
                       for row in range(self.height))
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
                + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b""))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
