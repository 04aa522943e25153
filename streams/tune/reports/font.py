"""A 5x7 bitmap font for the PNG charts, so that drawing text needs no font library.

Each glyph is seven rows, top to bottom, one base-32 digit a row (`0`-`9`, `A`-`V` for 0-31),
whose five bits are the pixels from left (16) to right (1). Lower case is drawn as upper case;
a character without a glyph is drawn as `?`.
"""

from __future__ import annotations

GLYPH_WIDTH, GLYPH_HEIGHT = 5, 7

_GLYPHS = {
    "0": "EHJLPHE", "1": "4C4444E", "2": "EH1248V", "3": "V2421HE", "4": "26AIV22",
    "5": "VGU11HE", "6": "68GUHHE", "7": "V124888", "8": "EHHEHHE", "9": "EHHF12C",
    "A": "EHHVHHH", "B": "UHHUHHU", "C": "EHGGGHE", "D": "SIHHHIS", "E": "VGGUGGV",
    "F": "VGGUGGG", "G": "EHGNHHF", "H": "HHHVHHH", "I": "E44444E", "J": "72222IC",
    "K": "HIKOKIH", "L": "GGGGGGV", "M": "HRLLHHH", "N": "HHPLJHH", "O": "EHHHHHE",
    "P": "UHHUGGG", "Q": "EHHHLID", "R": "UHHUKIH", "S": "FGGE11U", "T": "V444444",
    "U": "HHHHHHE", "V": "HHHHHA4", "W": "HHHLLLA", "X": "HHA4AHH", "Y": "HHA4444",
    "Z": "V1248GV", " ": "0000000", "-": "000E000", ".": "00000CC", ":": "0CC0CC0",
    ",": "0000C48", "/": "01248G0", "(": "2488842", ")": "8422248", "%": "OP248J3",
    "+": "044V440", "=": "00V0V00", "×": "0HA4AH0", "_": "000000V", "{": "2448442",
    "}": "8442448", "?": "EH12404", "'": "4480000", "≥": "842480V",
}
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUV"


def glyph(char: str) -> tuple[int, ...]:
    """The seven rows of a character's glyph, as 5-bit numbers."""
    rows = _GLYPHS.get(char.upper(), _GLYPHS["?"])
    return tuple(_DIGITS.index(row) for row in rows)
