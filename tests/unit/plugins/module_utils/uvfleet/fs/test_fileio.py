# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""fileio: the open flags and the one small-file reader and writer, against what a member plants."""

from __future__ import absolute_import, division, print_function

import errno
import os
import stat
import threading

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.fs import fileio


def test_every_flag_set_refuses_a_symlink_and_never_makes_a_tty():
    for name in ('DIR_FLAGS', 'FILE_FLAGS', 'LOCK_FLAGS', 'NEW_FLAGS', 'NEW_RW_FLAGS'):
        flags = getattr(fileio, name)
        assert flags & os.O_NOFOLLOW and flags & fileio.O_CLOEXEC, name
    for name in ('FILE_FLAGS', 'LOCK_FLAGS', 'NEW_FLAGS', 'NEW_RW_FLAGS'):
        assert getattr(fileio, name) & fileio.O_NOCTTY, name
    assert fileio.NEW_FLAGS & os.O_EXCL and fileio.NEW_RW_FLAGS & os.O_EXCL
    assert not fileio.PATH_DIR_FLAGS & os.O_NOFOLLOW  # the one that resolves a path: named for it


def test_read_small_reads_a_regular_file_up_to_its_limit(tmp_path):
    path = tmp_path / 'config.json'
    path.write_bytes(b'x' * (3 << 20))
    st, data = fileio.read_small(str(path))
    assert data == b'x' * fileio.SMALL and stat.S_ISREG(st.st_mode)
    assert fileio.read_small(str(path), 10)[1] == b'x' * 10
    dir_fd = os.open(str(tmp_path), fileio.DIR_FLAGS)
    try:
        assert fileio.read_small('config.json', 3, dir_fd=dir_fd)[1] == b'xxx'
    finally:
        os.close(dir_fd)


def test_read_small_never_follows_a_symlink(tmp_path):
    secret = tmp_path / 'secret'
    secret.write_text('root only\n')
    os.symlink(str(secret), str(tmp_path / 'config.json'))
    with pytest.raises(OSError) as err:
        fileio.read_small(str(tmp_path / 'config.json'))
    assert err.value.errno == errno.ELOOP


def test_read_small_reads_nothing_from_what_is_not_a_regular_file_and_never_blocks(tmp_path):
    fifo = str(tmp_path / 'uvfleet.prom')
    os.mkfifo(fifo)  # a blocking open would wait for a writer for ever
    raised = []

    def read_them():
        for path in (fifo, str(tmp_path), '/dev/null'):
            try:
                fileio.read_small(path)
            except fileio.NotRegularFile:
                raised.append(path)
    thread = threading.Thread(target=read_them)
    thread.daemon = True
    thread.start()
    thread.join(10)
    assert not thread.is_alive() and raised == [fifo, str(tmp_path), '/dev/null']


def test_read_small_checks_the_inode_it_was_given(tmp_path):
    path = tmp_path / 'RECORD'
    path.write_text('a,,\n')
    scanned = os.lstat(str(path))
    assert fileio.read_small(str(path), expect=scanned)[1] == b'a,,\n'
    os.rename(str(path), str(tmp_path / 'RECORD.old'))
    path.write_text('planted,,\n')  # swapped after the scan
    with pytest.raises(fileio.NotRegularFile):
        fileio.read_small(str(path), expect=scanned)


def test_replace_writes_whole_files_of_the_mode_asked_whatever_the_umask(tmp_path):
    """(Planted symlinks at the name and the temporary name: metrics/test_textfile.py, through write_textfile.)"""
    path = str(tmp_path / 'uvfleet.prom')
    old = os.umask(0o077)
    try:
        fileio.replace(path, b'one\n')
        fileio.replace(path, b'two\n', mode=0o640)
    finally:
        os.umask(old)
    with open(path, 'rb') as handle:
        assert handle.read() == b'two\n'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert sorted(os.listdir(str(tmp_path))) == ['uvfleet.prom']


def test_only_fileio_spells_the_open_flags():
    """One fact once: every other module of the library takes its open flags from fs/fileio.py.

    (content/check.py takes FILE_FLAGS and DIR_FLAGS through fs/walk.py, which re-exports them.)
    """
    lib = os.path.dirname(os.path.dirname(os.path.abspath(fileio.__file__)))
    spelled = []
    for top, dirs, files in os.walk(lib):
        dirs[:] = [d for d in dirs if d != '__pycache__']
        for name in files:
            path = os.path.join(top, name)
            if not name.endswith('.py') or path == os.path.abspath(fileio.__file__):
                continue
            with open(path) as handle:
                for lineno, line in enumerate(handle, 1):
                    if 'os.O_NOFOLLOW' in line or "'O_CLOEXEC'" in line:
                        spelled.append('%s:%d' % (os.path.relpath(path, lib), lineno))
    assert spelled == []
