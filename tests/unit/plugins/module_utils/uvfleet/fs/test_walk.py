# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fd-based walker: events, vanished/swapped entries, depth bound, no fd leaks, exclusions."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import engine
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.fs import walk as W

from perms_testlib import GID, good_tree, make_file


def open_fds():
    return len(os.listdir('/proc/self/fd'))


def events(root, **kwargs):
    return [(e[0], e[3]) for e in W.Walker(root, **kwargs)]


def test_events_and_one_stat_per_entry(base):
    good_tree(base)
    os.mkfifo(os.path.join(base, 'fifo'))
    walker = W.Walker(base)
    got = sorted((e[0], e[3]) for e in walker)
    assert got == sorted([
        (W.DIR, ''), (W.DIR, 'archive-v0'), (W.DIR, 'archive-v0/abc'), (W.FILE, 'archive-v0/abc/mod.py'),
        (W.FILE, 'archive-v0/abc/tool'), (W.DIR, 'wheels-v5'), (W.LINK, 'wheels-v5/pkg'), (W.SPECIAL, 'fifo')])
    assert walker.scanned == 8


def test_vanished_directory_is_skipped(base):
    os.mkdir(os.path.join(base, 'x'))
    os.mkdir(os.path.join(base, 'y'))
    seen = []
    for event in W.Walker(base):
        seen.append((event[0], event[3]))
        if event[0] == W.DIR and event[3] in ('x', 'y'):
            other = 'y' if event[3] == 'x' else 'x'
            if os.path.isdir(os.path.join(base, other)):
                os.rmdir(os.path.join(base, other))
    assert (W.VANISHED, 'x') in seen or (W.VANISHED, 'y') in seen


def test_directory_swapped_for_symlink_is_not_entered(base):
    os.mkdir(os.path.join(base, 'x'))
    os.mkdir(os.path.join(base, 'y'))
    make_file(os.path.join(base, 'y', 'inner'))
    seen = []
    for event in W.Walker(base):
        seen.append((event[0], event[3]))
        if event[0] == W.DIR and event[3] == 'x':
            os.rename(os.path.join(base, 'y'), os.path.join(base, 'y.real'))
            os.symlink('/etc', os.path.join(base, 'y'))
    if (W.DIR, 'y') not in seen:  # y was listed before x was entered: it must have been refused
        assert (W.SWAPPED, 'y') in seen
    assert not any(rel.startswith('y/') for _e, rel in seen)


def test_too_deep(base):
    path = base
    for i in range(6):
        path = os.path.join(path, 'l%d' % i)
        os.mkdir(path)
    got = events(base, max_depth=3)
    assert (W.TOO_DEEP, 'l0/l1/l2') in got
    assert not any(rel.startswith('l0/l1/l2/') for _e, rel in got)
    result = engine.run(base, GID, engine.Options(repair=False, max_depth=3))
    assert result['findings']['too_deep'] == 1
    assert result['remaining']['too_deep'] == 1


def test_no_fd_leak_even_when_stopped_early(base):
    good_tree(base)
    for i in range(5):
        os.makedirs(os.path.join(base, 'a%d' % i, 'b', 'c'))
    start = open_fds()
    list(W.Walker(base))
    assert open_fds() == start
    gen = iter(W.Walker(base))
    for _i in range(6):
        next(gen)
    assert open_fds() > start
    gen.close()
    assert open_fds() == start
    engine.run(base, GID)
    assert open_fds() == start


@pytest.mark.parametrize('patterns,excluded', [
    (['archive-v0'], ['archive-v0']),
    (['./archive-v0/'], ['archive-v0']),
    (['*.py'], ['archive-v0/abc/mod.py']),
    (['archive-v0/*/tool'], ['archive-v0/abc/tool']),
    (['wheels-v?/*'], ['wheels-v5/pkg']),
    ([], []),
])
def test_exclude_patterns(base, patterns, excluded):
    good_tree(base)
    everything = set(rel for _e, rel in events(base))
    walker = W.Walker(base, exclude=W.compile_excludes(patterns))
    got = set(e[3] for e in walker)
    gone = everything - got
    assert set(e for e in excluded) <= gone
    assert all(any(g == x or g.startswith(x + '/') for x in excluded) for g in gone)
    assert walker.excluded == len(excluded)


def test_root_must_not_be_a_symlink(base):
    os.symlink(base, base + '-link')
    try:
        with pytest.raises(OSError):
            iter(W.Walker(base + '-link'))
    finally:
        os.unlink(base + '-link')
