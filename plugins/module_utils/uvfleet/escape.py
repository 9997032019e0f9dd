# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Text that members wrote, made safe to print.

File names, process names and file contents come from places members can write. A
name with a newline forges a line in someone else's report ("fix: ..."), and escape
sequences reach their terminal raw. Every text line the node command prints puts such
strings through :func:`printable` (JSON output is escaped by ``json`` already).

Escaped: ``\\`` itself, and every character Python does not call printable (C0 and C1
controls, DEL, format characters such as the bidirectional overrides U+202A-U+202E and
U+2066-U+2069, line and paragraph separators, other non-space separators, unassigned
code points); the space stays. Undecodable bytes kept as surrogates by
``os.fsdecode`` come out as the ``\\xNN`` of the byte. The result is one line of
printable text from which the original can be told apart, never a second line.
"""

from __future__ import absolute_import, division, print_function

import os

_SHORT = {'\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\'}


def _escape(ch):
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:          # os.fsdecode's surrogateescape of an undecodable byte
        return '\\x%02x' % (code - 0xDC00)
    if code < 0x100:
        return '\\x%02x' % code
    if code < 0x10000:
        return '\\u%04x' % code
    return '\\U%08x' % code


def printable(value):
    """``value`` (str, bytes or anything with a str) as one line of printable text."""
    if isinstance(value, bytes):
        value = os.fsdecode(value)
    text = value if isinstance(value, str) else str(value)
    if text.isprintable() and '\\' not in text:
        return text
    return ''.join(_SHORT.get(ch) or (ch if ch.isprintable() else _escape(ch)) for ch in text)
