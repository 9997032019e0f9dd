# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""escape.printable: what members named never reaches a terminal raw, and never forges a line."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.escape import printable


@pytest.mark.parametrize('raw, shown', [
    ('/var/cache/uv/archive-v0/abc/pkg.py', '/var/cache/uv/archive-v0/abc/pkg.py'),
    ('name with spaces é ü 字', 'name with spaces é ü 字'),
    ('a\nfix: run this', 'a\\nfix: run this'),
    ('a\r\tb', 'a\\r\\tb'),
    ('\x1b]0;owned\x07\x1b[2J', '\\x1b]0;owned\\x07\\x1b[2J'),
    ('\x7f\x85\x9b', '\\x7f\\x85\\x9b'),                        # DEL, NEL and CSI of C1
    ('evil\u202etxt.py', 'evil\\u202etxt.py'),                  # right-to-left override
    ('\u2066x\u2069\u200b\u2028\u2029', '\\u2066x\\u2069\\u200b\\u2028\\u2029'),
    ('back\\slash', 'back\\\\slash'),                           # \ itself: the escapes stay unambiguous
    (b'bytes-\xff\xfe', 'bytes-\\xff\\xfe'),                    # undecodable bytes
    (os.fsdecode(b'\xc3('), '\\xc3('),
    (42, '42'),
])
def test_printable(raw, shown):
    assert printable(raw) == shown


def test_every_character_comes_out_printable_and_on_one_line():
    text = ''.join(chr(c) for c in range(0x3000)) + os.fsdecode(bytes(range(0x80, 0x100)))
    out = printable(text)
    assert out.isprintable() and '\n' not in out
