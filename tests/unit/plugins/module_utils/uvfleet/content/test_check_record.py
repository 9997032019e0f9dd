# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hostile RECORDs a member can plant: escaping paths, huge lines, millions of rows, bad bytes."""

from __future__ import absolute_import, division, print_function

import os
import time

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.content import check as content

from content_testlib import make_cache, make_wheel_entry, record_hash, write


@pytest.fixture
def cache(base):
    return make_cache(base)


def record_path(top):
    return os.path.join(top, 'demo-1.0.dist-info', 'RECORD')


def unparsable(result):
    return [s for s in result['samples'] if s['kind'] == 'record_unparsable']


@pytest.mark.parametrize('row', [
    '../outside.txt,{h},{n}',
    'demo/../../outside.txt,{h},{n}',
    '/etc/shadow,{h},{n}',
    'demo\\..\\..\\outside.txt,{h},{n}',
    'demo/x\x00y,{h},{n}',
])
def test_paths_that_leave_the_entry_are_refused_and_never_read(cache, base, row):
    secret = write(os.path.join(cache, 'archive-v0', 'outside.txt'), b'secret')
    top = make_wheel_entry(cache, extra_rows=[row.format(h=record_hash(b'secret'), n=6)])
    result = content.check_cache(cache)
    assert [s['path'] for s in unparsable(result)] == [record_path(top)]
    # the planted file itself is a file in archive-v0, where uv makes only directories
    assert result['findings'] == {'record_unparsable': 1, 'not_regular': 1}
    assert [(s['path'], s['expected']) for s in result['samples'] if s['kind'] == 'not_regular'] == [
        (secret, 'directory')]
    assert result['files_verified'] == 4  # the good rows are still checked
    assert not any('outside' in s['path'] for s in result['samples'] if s['kind'] != 'not_regular')
    assert open(secret, 'rb').read() == b'secret'


def test_dotdot_in_an_environment_may_not_leave_the_entry(cache):
    top = make_wheel_entry(cache, entry='Wheel1')
    rows, problem = content.parse_record(b'../../../bin/tool,,\n', 'lib/python3.11/site-packages')
    assert problem is None and list(rows) == ['bin/tool']
    rows, problem = content.parse_record(b'../../../../x,,\n', 'lib/python3.11/site-packages')
    assert rows == {} and 'leaves the entry' in problem
    assert os.path.isdir(top)


def test_huge_line_is_unparsable_quickly(cache):
    top = make_wheel_entry(cache)
    with open(record_path(top), 'ab') as handle:
        handle.write(b'a' * (8 << 20) + b',,\n')
    start = time.time()
    result = content.check_cache(cache)
    assert time.time() - start < 10
    assert [s['path'] for s in unparsable(result)] == [record_path(top)]


def test_record_larger_than_the_bound_is_not_parsed(cache, monkeypatch):
    monkeypatch.setattr(content, 'MAX_RECORD_BYTES', 1000)
    top = make_wheel_entry(cache)
    with open(record_path(top), 'ab') as handle:
        handle.write(b'x/y,,\n' * 500)
    result = content.check_cache(cache, workers=1)
    assert 'larger than' in unparsable(result)[0]['current']


def test_millions_of_rows_stop_at_the_row_bound(cache):
    top = make_wheel_entry(cache)
    with open(record_path(top), 'ab') as handle:
        handle.write(b''.join(b'f%d,,\n' % i for i in range(2000000)))
    start = time.time()
    result = content.check_cache(cache)
    assert time.time() - start < 60
    assert 'more than' in unparsable(result)[0]['current']
    assert 'missing' not in result['findings']  # rows without hash or size are not missing files


def test_non_utf8_record(cache):
    top = make_wheel_entry(cache)
    with open(record_path(top), 'ab') as handle:
        handle.write(b'demo/\xff\xfe.py,,\n')
    result = content.check_cache(cache)
    assert 'not UTF-8' in unparsable(result)[0]['current']
    assert result['entries_unverifiable'] == 1  # nothing could be read from it


@pytest.mark.parametrize('row,reason', [
    ('demo/a.py,md5,3', 'ALGO=VALUE'),
    ('demo/a.py,sha256=!!!,3', 'base64'),
    ('demo/a.py,sha256=AAAA,3', 'bytes'),
    ('demo/a.py,,-1', 'not a number'),
    ('demo/a.py,,', None),
    ('demo/a.py', 'fields'),
    ('demo/core.py,,', 'listed twice'),
])
def test_bad_rows(row, reason):
    good = 'demo/core.py,%s,3\n' % record_hash(b'abc')
    rows, problem = content.parse_record((good + row + '\n').encode())
    if reason is None:
        assert problem is None and rows['demo/a.py'] == (None, None)
    else:
        assert reason in problem and 'line 2' in problem
        assert rows['demo/core.py'][1] == 3


def test_other_hash_algorithms_are_unverifiable_rows(cache):
    top = make_wheel_entry(cache)
    write(os.path.join(top, 'demo', 'other.py'), b'x')
    with open(record_path(top), 'ab') as handle:
        handle.write(b'demo/other.py,sha512=AAAA,1\n')
    result = content.check_cache(cache)
    assert result['findings'] == {} and result['files_unverifiable'] == 2
