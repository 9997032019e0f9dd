# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attacks on a root-run repair in a group-writable tree: real files, real races, no mocks."""

from __future__ import absolute_import, division, print_function

import os
import sys
import threading

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import engine

from perms_testlib import GID, good_tree, make_dir, make_file, mode_of, snapshot

RACE_ATTEMPTS = 1000
#: each parallel repair forks a worker: fewer attempts keep the suite fast
RACE_ATTEMPTS_PARALLEL = 500


@pytest.mark.parametrize('jobs', [1, 2])
def test_symlink_to_root_file_outside(base, outside, forks, jobs):
    good_tree(base)
    secret = os.path.join(outside, 'secret')
    os.symlink(secret, os.path.join(base, 'archive-v0', 'shadow'))
    os.symlink(outside, os.path.join(base, 'outdir'))
    os.symlink('../../' + os.path.basename(outside) + '/tool', os.path.join(base, 'archive-v0', 'rel'))
    # the same inside the subtrees a parallel walk hands to its workers
    for i in range(3):
        d = make_dir(os.path.join(base, 'archive-v0', 'w%d' % i))
        make_dir(os.path.join(d, 'pkg'))
        os.symlink(secret, os.path.join(d, 'pkg', 'shadow'))
        os.symlink(outside, os.path.join(d, 'outdir'))
        os.symlink('../../../../' + os.path.basename(outside) + '/sub', os.path.join(d, 'pkg', 'rel'))
    before = snapshot(outside)
    result = engine.run(base, GID, engine.Options(jobs=jobs))
    assert result['findings'] == {'symlink_outside': 12}
    assert snapshot(outside) == before
    audit = engine.run(base, GID, engine.Options(repair=False, jobs=jobs))
    assert audit['remaining'] == {'symlink_outside': 12}
    assert snapshot(outside) == before
    assert forks[0] == (2 if jobs > 1 else 0)


def test_hardlink_to_root_file_outside(base, outside):
    good_tree(base)
    secret = os.path.join(outside, 'secret')
    os.link(secret, os.path.join(base, 'archive-v0', 'abc', 'linked'))
    before = snapshot(outside)
    result = engine.run(base, GID)
    assert result['skipped_unsafe'] == {'hardlink_foreign': 1}
    assert result['remaining'] == {'wrong_group': 1, 'group_perms': 1, 'hardlink_foreign': 1}
    assert snapshot(outside) == before
    assert mode_of(secret) == 0o600


def test_setuid_and_setgid_files_lose_the_bits(base):
    good_tree(base)
    suid = make_file(os.path.join(base, 'suid'), mode=0o4755, gid=0)
    sgid = make_file(os.path.join(base, 'sgid'), mode=0o2770)
    result = engine.run(base, GID)
    assert result['fixed']['setuid_setgid'] == 2
    assert mode_of(suid) == 0o770 and os.stat(suid).st_gid == GID
    assert mode_of(sgid) == 0o770


def test_fifo_never_opened(base):
    """A fifo would block an open(): the run must finish (a thread with a timeout guards the test)."""
    good_tree(base)
    fifo = os.path.join(base, 'archive-v0', 'fifo')
    os.mkfifo(fifo)
    os.chown(fifo, 0, 0)
    os.chmod(fifo, 0o666)
    before = snapshot(fifo)
    results = []
    for kwargs in ({'repair': False}, {'repair': True}):
        worker = threading.Thread(target=lambda kw=kwargs: results.append(engine.run(base, GID, engine.Options(**kw))))
        worker.daemon = True
        worker.start()
        worker.join(20)
        if worker.is_alive():
            # unblock the stuck open() so the process can end, then fail
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            pytest.fail('the engine blocked on a fifo')
    assert [r['findings'] for r in results] == [{'special_file': 1}] * 2
    assert snapshot(fifo) == before


@pytest.mark.parametrize('jobs,parent', [(1, ''), (2, 'archive-v0')], ids=['serial', 'jobs2'])
def test_directory_and_file_swapped_during_repair(base, outside, forks, jobs, parent):
    """A racing thread swaps a directory (and a file) for symlinks into a root-owned directory.

    Over RACE_ATTEMPTS repairs (RACE_ATTEMPTS_PARALLEL with jobs=2) the outside directory is never modified.  With jobs=2
    the directory sits two levels down, so it is a subtree that the parallel walk
    hands out: a forked worker (or the parent) enters it from the inherited fd.
    """
    good_tree(base)
    if parent:
        for i in range(4):  # enough fan-out that the parallel walk hands out archive-v0/*
            make_file(os.path.join(make_dir(os.path.join(base, parent, 'x%d' % i)), 'f'))
    d = make_dir(os.path.join(base, parent, 'd'))
    names = ['f%d' % i for i in range(4)]
    for name in names:
        make_file(os.path.join(d, name), mode=0o644, gid=0)
    make_dir(os.path.join(d, 'sub'), mode=0o755, gid=0)
    make_file(os.path.join(d, 'sub', 'g'), mode=0o600, gid=0)
    before = snapshot(outside)
    root_fd = os.open(os.path.join(base, parent), os.O_RDONLY | os.O_DIRECTORY)
    d_fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    stop = threading.Event()
    swaps = [0]
    target_dir = outside
    target_file = os.path.join(outside, 'secret')

    def attacker():
        while not stop.is_set():
            # directory d -> symlink to the outside directory, and back
            os.rename('d', 'd.real', src_dir_fd=root_fd, dst_dir_fd=root_fd)
            os.symlink(target_dir, 'd', dir_fd=root_fd)
            # file f0 -> symlink to a root-owned file outside, inside the real directory
            os.rename('f0', 'f0.real', src_dir_fd=d_fd, dst_dir_fd=d_fd)
            os.symlink(target_file, 'f0', dir_fd=d_fd)
            # damage again (through the real directory's fd: never through the swapped path)
            for name in names[1:] + ['f0.real']:
                os.chmod(name, 0o644, dir_fd=d_fd, follow_symlinks=False)
                os.chown(name, -1, 0, dir_fd=d_fd, follow_symlinks=False)
            os.unlink('f0', dir_fd=d_fd)
            os.rename('f0.real', 'f0', src_dir_fd=d_fd, dst_dir_fd=d_fd)
            os.unlink('d', dir_fd=root_fd)
            os.rename('d.real', 'd', src_dir_fd=root_fd, dst_dir_fd=root_fd)
            swaps[0] += 1

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    thread = threading.Thread(target=attacker)
    thread.start()
    totals = {}
    try:
        for _attempt in range(RACE_ATTEMPTS if jobs == 1 else RACE_ATTEMPTS_PARALLEL):
            result = engine.run(base, GID, engine.Options(jobs=jobs))
            for table in ('fixed', 'skipped_unsafe', 'findings'):
                for kind, n in result[table].items():
                    key = table + ':' + kind
                    totals[key] = totals.get(key, 0) + n
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(old_interval)
        os.close(root_fd)
        os.close(d_fd)
    assert snapshot(outside) == before
    # the race was real: repairs happened and the walker met the planted symlinks
    assert swaps[0] > 100
    assert totals.get('fixed:group_perms', 0) > 0
    assert totals.get('findings:symlink_outside', 0) > 0
    if jobs > 1:
        assert forks[0] > RACE_ATTEMPTS_PARALLEL // 2  # most runs were parallel (d is not always a directory when listed)
    sys.stdout.write('race: %d swaps, %d forks, %s\n' % (swaps[0], forks[0], sorted(totals.items())))
