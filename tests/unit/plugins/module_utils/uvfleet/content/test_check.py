# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The content check on synthetic unpacked wheels: damage, planted entries, races, hostile RECORDs."""

from __future__ import absolute_import, division, print_function

import hashlib
import os

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.content import check as content

from content_testlib import DEFAULT_FILES, alarm, cache, make_env_entry, make_wheel_entry, write  # noqa: F401 pylint: disable=unused-import


def check(cache, **kw):
    return content.check_cache(cache, **kw)


def kinds(result):
    return sorted((s['kind'], s['path']) for s in result['samples'])


def test_a_clean_wheel_and_a_clean_environment_give_zero_findings(cache):
    make_wheel_entry(cache)
    make_env_entry(cache)
    result = check(cache)
    assert result['findings'] == {} and result['bad_entries'] == []
    assert result['entries'] == 2 and result['entries_bad'] == 0
    # verified: the wheel's 4 files, the environment's 3 and its console script;
    # unverifiable: each RECORD (it cannot list its own hash), the venv's 8 scaffold
    # files, 4 symlinks and 1 bytecode file
    assert result['files_verified'] == 8
    assert result['files_unverifiable'] == 1 + (1 + 8 + 4 + 1)
    assert result['bytes_hashed'] > 0


def test_truncated_file_is_wrong_size_with_its_exact_path(cache):
    top = make_wheel_entry(cache)
    open(os.path.join(top, 'demo', 'core.py'), 'w').close()  # uv#6648: zero bytes
    result = check(cache)
    assert kinds(result) == [('wrong_size', os.path.join(top, 'demo', 'core.py'))]
    sample = result['samples'][0]
    assert sample['current'] == '0' and sample['expected'] == str(len(b'def f():\n    return 42\n' * 50))
    assert [b['entry'] for b in result['bad_entries']] == ['AAAAentry1']


def test_flipped_byte_is_wrong_hash(cache):
    top = make_wheel_entry(cache)
    path = os.path.join(top, 'demo', '__init__.py')
    data = bytearray(open(path, 'rb').read())
    data[3] ^= 1
    write(path, bytes(data))
    result = check(cache)
    assert kinds(result) == [('wrong_hash', path)]
    assert result['samples'][0]['expected'].startswith('sha256=')


def test_poisoned_module_same_size_is_wrong_hash(cache):
    top = make_wheel_entry(cache)
    path = os.path.join(top, 'demo', '__init__.py')
    write(path, b'VALUE = "poison!"\n')
    assert len(b'VALUE = "poison!"\n') == len(b'VALUE = "genuine"\n')
    assert kinds(check(cache)) == [('wrong_hash', path)]


def test_missing_file(cache):
    top = make_wheel_entry(cache)
    os.unlink(os.path.join(top, 'demo', 'core.py'))
    assert kinds(check(cache)) == [('missing', os.path.join(top, 'demo', 'core.py'))]


def test_extra_file_is_unlisted_but_bytecode_is_not(cache):
    top = make_wheel_entry(cache)
    write(os.path.join(top, 'demo', '__pycache__', 'core.cpython-311.pyc'), b'bytecode')
    write(os.path.join(top, 'evil.pth'), b'import os; os.system("id")\n')
    result = check(cache)
    assert kinds(result) == [('unlisted', os.path.join(top, 'evil.pth'))]
    # bytecode outside __pycache__ is not bytecode uv or Python writes
    write(os.path.join(top, 'demo', 'core.pyc'), b'bytecode')
    assert ('unlisted', os.path.join(top, 'demo', 'core.pyc')) in kinds(check(cache))


def test_record_without_hashes_is_unverifiable_not_corrupt(cache):
    top = make_wheel_entry(cache, hashes=False)
    write(os.path.join(top, 'demo', 'core.py'), b'anything')
    result = check(cache)
    assert result['findings'] == {'unverifiable': 1} and result['bad_entries'] == []
    assert result['entries_unverifiable'] == 1 and result['files_verified'] == 0
    assert result['files_unverifiable'] == 5


def test_entry_without_record_is_unverifiable(cache):
    make_wheel_entry(cache, record=False)
    result = check(cache)
    assert result['findings'] == {'unverifiable': 1} and result['bad_entries'] == []
    assert result['files_unverifiable'] == 4


def test_symlink_in_place_of_a_listed_file_is_not_followed(cache, base):
    top = make_wheel_entry(cache)
    secret = write(os.path.join(base, 'secret'), b'VALUE = "genuine"\n')  # same content: would verify if followed
    path = os.path.join(top, 'demo', '__init__.py')
    os.unlink(path)
    os.symlink(secret, path)
    result = check(cache)
    assert kinds(result) == [('not_regular', path)] and result['samples'][0]['current'] == 'symlink'


def test_fifo_in_place_of_a_listed_file_is_never_opened(cache, alarm):  # pylint: disable=unused-argument
    top = make_wheel_entry(cache)
    path = os.path.join(top, 'demo', 'core.py')
    os.unlink(path)
    os.mkfifo(path)
    result = check(cache)
    assert kinds(result) == [('not_regular', path)] and result['samples'][0]['current'] == 'fifo'


def test_directory_in_place_of_a_listed_file(cache):
    top = make_wheel_entry(cache)
    path = os.path.join(top, 'demo', 'core.py')
    os.unlink(path)
    os.mkdir(path)
    assert kinds(check(cache)) == [('not_regular', path)]


def test_file_rewritten_while_hashed_is_reported_not_judged(cache, monkeypatch):
    top = make_wheel_entry(cache)
    path = os.path.join(top, 'demo', 'core.py')
    real = hashlib.sha256

    class Racing(object):
        """sha256 whose first update of core.py lets a member append to it while it is hashed."""

        def __init__(self):
            self.inner = real()
            self.done = False

        def update(self, data):
            if not self.done and bytes(data[:7]) == b'def f()':
                self.done = True
                with open(path, 'ab') as handle:
                    handle.write(b'# appended\n')
            self.inner.update(data)

        def digest(self):
            return self.inner.digest()
    monkeypatch.setattr(content.hashlib, 'sha256', Racing)
    result = check(cache, workers=1)
    assert result['findings'] == {'changed': 1} and result['bad_entries'] == []
    assert ('changed', path) in kinds(result)


def test_file_swapped_after_the_scan_is_not_read(cache, base):
    top = make_wheel_entry(cache)
    other = os.stat(write(os.path.join(base, 'other'), b'x'))
    fd = os.open(os.path.join(top, 'demo'), os.O_RDONLY | os.O_DIRECTORY)
    try:
        status, digest, nbytes, _detail = content.hash_file(fd, 'core.py', other)
        assert (status, digest, nbytes) == (content.CHANGED, None, 0)
        os.unlink(os.path.join(top, 'demo', 'core.py'))
        os.symlink(os.path.join(base, 'other'), os.path.join(top, 'demo', 'core.py'))
        assert content.hash_file(fd, 'core.py', other)[0] == content.CHANGED  # ELOOP: not followed
        os.unlink(os.path.join(top, 'demo', 'core.py'))
        assert content.hash_file(fd, 'core.py', other)[0] == content.VANISHED
    finally:
        os.close(fd)


def test_large_file_streams_and_verifies(cache):
    big = os.urandom(1 << 16) * 80  # 5 MiB, several buffers
    files = dict(DEFAULT_FILES, **{'demo/blob.bin': big})
    make_wheel_entry(cache, files=files)
    result = check(cache)
    assert result['findings'] == {} and result['bytes_hashed'] >= len(big)


def test_environment_entry_planted_and_tampered_files(cache):
    top = make_env_entry(cache)
    write(os.path.join(top, 'bin', 'tool'), b'#!/bin/sh\nrm -rf ~\n')
    write(os.path.join(top, 'bin', 'extra'), b'planted')
    result = check(cache)
    assert kinds(result) == [('unlisted', os.path.join(top, 'bin', 'extra')),
                             ('wrong_size', os.path.join(top, 'bin', 'tool'))]


@pytest.mark.parametrize('workers,pool', [(2, 'process'), (2, 'thread'), (3, 'process')])
def test_parallel_pools_find_the_same_as_serial(cache, workers, pool):
    for i in range(12):
        top = make_wheel_entry(cache, entry='E%02d' % i)
        if i % 4 == 0:
            write(os.path.join(top, 'demo', 'core.py'), b'')
    serial = check(cache, workers=1)
    parallel = check(cache, workers=workers, pool=pool)
    for key in ('findings', 'entries', 'files', 'files_verified', 'bytes_hashed', 'samples'):
        assert parallel[key] == serial[key], key
    assert [b['entry'] for b in parallel['bad_entries']] == ['E00', 'E04', 'E08']


def test_cache_that_is_a_symlink_is_refused(base, cache):
    link = os.path.join(base, 'link')
    os.symlink(cache, link)
    with pytest.raises(content.ContentError, match='not a symlink'):
        check(link)


def test_archive_bucket_that_is_a_symlink_is_refused(base):
    cache = os.path.join(base, 'c2')
    os.makedirs(os.path.join(base, 'elsewhere'))
    os.makedirs(cache)
    os.symlink(os.path.join(base, 'elsewhere'), os.path.join(cache, 'archive-v0'))
    with pytest.raises(content.ContentError, match='archive-v0'):
        check(cache)


def test_cache_without_archive_bucket_is_empty(base):
    os.makedirs(os.path.join(base, 'empty'))
    result = check(os.path.join(base, 'empty'))
    assert result['entries'] == 0 and result['findings'] == {}


def test_finding_counts_has_every_kind(cache):
    top = make_wheel_entry(cache)
    write(os.path.join(top, 'demo', 'core.py'), b'')
    counts = content.finding_counts(check(cache))
    assert set(counts) == set(k for k, _c in content.KINDS) | {'quarantined'}
    assert counts['wrong_size'] == 1 and counts['wrong_hash'] == 0 and counts['quarantined'] == 0
