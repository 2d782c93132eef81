"""Turn raw bytes or text into clean Unicode: BOM, UTF-8, cp1252/Latin-1 fallback, mojibake repair."""

from __future__ import annotations

import codecs
import re

import charset_normalizer
import ftfy

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_MOJIBAKE = re.compile(
    "[ÃÂâ][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]"
)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+")
_BINARY_SAMPLE = 4096
_BINARY_RATIO = 0.05
_DETECT_SAMPLE = 16_384
_CONTROL_BYTES = bytes([*range(9), *range(14, 32)])


def decode_content(content: str | bytes | None, warnings: list[str], limit: int | None = None) -> str:
    """Return the content as clean text (at most `limit` characters), appending a warning for each repair made.

    Binary content (many control bytes) gives an empty text and a warning rather than garbage.
    """
    if content is None:
        return ""
    if isinstance(content, bytes | bytearray):
        if _looks_binary(bytes(content)):
            warnings.append("content looks binary; not read")
            return ""
        text = _decode_bytes(bytes(content), warnings)
    else:
        text = str(content)
    if limit is not None and len(text) > limit:
        warnings.append(f"input is {len(text)} characters; only the first {limit} were read")
        text = text[:limit]
    return _repair_text(text, warnings)


def unreadable_reason(content: str | bytes | None) -> str | None:
    """Why a document holds no text to announce (empty, only whitespace, binary, undecodable), or None."""
    if not content:
        return "empty document"
    if isinstance(content, bytes | bytearray):
        data = bytes(content)
        if _looks_binary(data):
            return "binary content, not text"
        if not _has_bom(data) and not _is_utf8(data) and not _has_encoding(data):
            return "cannot be decoded as text in any known encoding"
        content = _decode_bytes(data, [])
    text = content.lstrip("\ufeff")
    if not text.strip():
        return "only whitespace"
    visible = len(text) - text.count(" ") - text.count("\n")
    if text.count("\ufffd") > max(visible * _BINARY_RATIO, 0):
        return "cannot be decoded as text (undecodable bytes)"
    return None


def _has_encoding(data: bytes) -> bool:
    """Whether charset-normalizer finds any encoding the start of the bytes reads as text in."""
    return charset_normalizer.from_bytes(data[:_DETECT_SAMPLE]).best() is not None


def _has_bom(data: bytes) -> bool:
    """Whether the bytes start with a Unicode byte-order mark."""
    return any(data.startswith(bom) for bom, _ in _BOMS)


def _is_utf8(data: bytes) -> bool:
    """Whether the bytes are valid UTF-8."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _looks_binary(data: bytes) -> bool:
    """Whether the start of the data has too many control bytes to be text (no BOM: UTF-16/32 are text)."""
    if _has_bom(data):
        return False
    sample = data[:_BINARY_SAMPLE]
    return bool(sample) and 1 - len(sample.translate(None, _CONTROL_BYTES)) / len(sample) > _BINARY_RATIO


def _decode_bytes(data: bytes, warnings: list[str]) -> str:
    """Decode bytes by BOM, then strict UTF-8, then cp1252, then Latin-1."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
        warnings.append("content is not UTF-8; decoded as Windows-1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
        warnings.append("content is not UTF-8; decoded as Latin-1")
    return text


def _repair_text(text: str, warnings: list[str]) -> str:
    """Drop a BOM and control characters, normalise newlines and fix mojibake if present."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL.search(text):
        text = _CONTROL.sub(" ", text)
    if "\ufffd" in text:
        warnings.append("content has undecodable bytes (replaced by U+FFFD)")
    if _MOJIBAKE.search(text):
        fixed = ftfy.fix_text(
            text,
            uncurl_quotes=False,
            fix_latin_ligatures=False,
            fix_character_width=False,
            normalization=None,
            explain=False,
        )
        if fixed != text:
            warnings.append("mojibake repaired")
            text = fixed
    return text
