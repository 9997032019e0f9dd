# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reflink probe (reflink.py) on real file systems, and a member who attacks it.

The shared role asks it, as root, inside the shared cache, which members write (the
``cache_perms`` option ``probe_reflink``). The probe it replaced made a temporary
directory there and wrote and copied files in it by path: a member who swapped the
directory for a symlink made root truncate a file of root's.
"""

from __future__ import absolute_import, division, print_function

import os
import subprocess
import time

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.fs import reflink

from perms_testlib import GID, MEMBER_UID, make_dir, xfs_reflink


def probe(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return reflink.supported(fd)
    finally:
        os.close(fd)


def test_xfs_with_reflink_clones_and_tmpfs_does_not_and_nothing_is_left(base):
    with xfs_reflink(os.path.join(base, 'xfs')) as xfs:
        assert probe(xfs) is True
        assert os.listdir(xfs) == []
    tmpfs = os.path.join(base, 'tmpfs')
    os.mkdir(tmpfs)
    assert subprocess.call(['mount', '-t', 'tmpfs', 'tmpfs', tmpfs]) == 0
    try:
        assert probe(tmpfs) is False
        assert os.listdir(tmpfs) == []
    finally:
        subprocess.call(['umount', '-l', tmpfs])


def test_a_name_a_member_planted_is_never_opened_or_followed(base, monkeypatch):
    """A member who guessed the probe's names and planted links to a file of root's."""
    shared = make_dir(os.path.join(base, 'cache'))
    victim = os.path.join(base, 'roots-file')
    with open(victim, 'w') as handle:
        handle.write('precious\n')
    for name in ('.uvfleet-reflink-planted-src', '.uvfleet-reflink-planted-dst'):
        os.symlink(victim, os.path.join(shared, name))
        os.lchown(os.path.join(shared, name), MEMBER_UID, GID)
    names = iter(['.uvfleet-reflink-planted-src', '.uvfleet-reflink-free-dst'])
    monkeypatch.setattr(reflink, '_new_name', lambda: next(names))
    with pytest.raises(OSError):           # the source name is taken: nothing is written, nothing followed
        probe(shared)
    names = iter(['.uvfleet-reflink-free-src', '.uvfleet-reflink-planted-dst'])
    assert probe(shared) is False          # the clone's name is taken: no clone, and root's file is intact
    with open(victim) as handle:
        assert handle.read() == 'precious\n'
    assert sorted(os.listdir(shared)) == ['.uvfleet-reflink-planted-dst', '.uvfleet-reflink-planted-src']


def test_a_member_swapping_every_new_entry_for_a_symlink_never_reaches_roots_file(base):
    """A member's process swaps each new entry in the cache for a link to root's file, as fast as it can."""
    shared = make_dir(os.path.join(base, 'cache'))
    victim = os.path.join(base, 'roots-file')
    with open(victim, 'w') as handle:
        handle.write('precious\n')
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(GID)
            os.setuid(MEMBER_UID)
            stop = time.time() + 10
            while time.time() < stop:
                for name in os.listdir(shared):
                    path = os.path.join(shared, name)
                    if name.endswith('.moved') or os.path.islink(path):
                        continue
                    try:
                        os.rename(path, path + '.moved')
                        os.symlink(victim, path)
                    except OSError:
                        pass
        finally:
            os._exit(0)
    try:
        for _round in range(300):
            try:
                probe(shared)
            except OSError:
                pass
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    with open(victim) as handle:
        assert handle.read() == 'precious\n'
    assert os.stat(victim).st_nlink == 1
