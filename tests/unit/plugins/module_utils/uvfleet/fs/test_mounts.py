# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One file system, one mount (issue 7, hole 6; mounts.py): bind mounts, automounts, the mount table, statx."""

from __future__ import absolute_import, division, print_function

import errno
import os
import subprocess

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.fs import mounts

from holes_testlib import JOBS, run, places, forked, findings_of_a_child_run
from perms_testlib import autofs_trigger, bind_mount, mode_of, snapshot


@pytest.fixture(params=['statx', 'mount table'])
def probing(request, monkeypatch):
    """Both ways the walk tells mounts apart: statx mount IDs, and the mount table where statx is missing."""
    if request.param == 'mount table':
        monkeypatch.setattr(mounts, '_STATX', [None])
    elif mounts.statx_func() is None:
        pytest.skip('no statx with STATX_MNT_ID here')
    return request.param


@JOBS
def test_a_bind_mount_of_the_same_file_system_is_not_crossed(base, outside, forks, probing, jobs):
    ds = places(base)
    assert os.stat(outside).st_dev == os.stat(base).st_dev  # the same file system: st_dev cannot tell
    mounted = []
    try:
        for d in ds:
            parent = d if d == ds[0] else os.path.join(d, 'pkg')
            target = os.path.join(parent, 'view')
            os.mkdir(target)
            if subprocess.call(['mount', '--bind', outside, target], stderr=subprocess.DEVNULL) != 0:
                pytest.skip('cannot bind-mount here')
            mounted.append(target)
            os.symlink('view/secret', os.path.join(parent, 'through-view'))
        before = snapshot(outside)
        result = run(base, jobs)
        assert forked(forks, jobs)
        assert result['findings'].get('other_filesystem') == len(ds)
        assert result['findings'].get('symlink_outside') == len(ds)  # the link crosses into the bind mount
        assert snapshot(outside) == before
        assert mode_of(os.path.join(outside, 'secret')) == 0o600
    finally:
        for target in mounted:
            subprocess.call(['umount', '-l', target])


@JOBS
def test_an_automount_point_in_the_tree_is_never_triggered(base, forks, jobs):
    ds = places(base)
    with autofs_trigger(os.path.join(ds[0], 'auto')), autofs_trigger(os.path.join(ds[2], 'pkg', 'auto')):
        os.symlink('auto/x', os.path.join(ds[0], 'into-auto'))
        findings = findings_of_a_child_run(base, jobs)
    assert findings['other_filesystem'] == 2 and findings['symlink_outside'] == 1


@JOBS
def test_a_mount_below_the_root_from_the_mount_table(base, forks, jobs, monkeypatch):
    """Without statx the mount table read at the start stands in: a tmpfs and a bind mount."""
    monkeypatch.setattr(mounts, '_STATX', [None])
    ds = places(base)
    target = os.path.join(ds[4], 'pkg', 'bind')
    with bind_mount(ds[1], target):
        result = run(base, jobs, repair=False)
    assert result['findings'].get('other_filesystem') == 1
    assert mounts.mount_points_below('/definitely/not/mounted') == frozenset()


def test_statx_probe_sees_mount_roots(base):
    if mounts.statx_func() is None:
        pytest.skip('no statx with STATX_MNT_ID here')
    fd = os.open('/', os.O_RDONLY | os.O_DIRECTORY)
    try:
        info = mounts.probe(fd, 'proc')
        assert info.mount_root is True
        with pytest.raises(OSError) as err:
            mounts.probe(fd, 'no-such-entry-uvfleet')
        assert err.value.errno == errno.ENOENT
    finally:
        os.close(fd)
