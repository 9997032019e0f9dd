# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The root path (issue 7, hole 5; roots.py): symlinks, ancestors others can change, system trees, the root checked is walked."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import engine
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import roots
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import errors

from holes_testlib import JOBS, MEMBERS
from perms_testlib import GID, STRANGER_UID, good_tree, make_dir, make_file, mode_of, snapshot


@JOBS
def test_a_symlink_in_an_ancestor_of_the_root_is_refused(base, outside, jobs):
    a = os.path.join(base, 'a')
    os.mkdir(a, 0o755)
    os.makedirs(os.path.join(outside, 'elsewhere', 'pkg'))
    os.symlink(os.path.join(outside, 'elsewhere'), os.path.join(a, 'abc'))
    before = snapshot(outside)
    with pytest.raises(errors.RefusedRoot) as err:
        engine.run(os.path.join(a, 'abc', 'pkg'), GID, engine.Options(jobs=jobs))
    assert 'symlink' in str(err.value)
    assert snapshot(outside) == before


@JOBS
def test_a_root_whose_ancestors_members_can_change_is_refused(base, jobs):
    good_tree(base)  # base: 2770, group-writable
    with pytest.raises(errors.RefusedRoot) as err:
        engine.run(os.path.join(base, 'archive-v0', 'abc'), GID, engine.Options(jobs=jobs))
    assert 'ancestor' in str(err.value) and 'root' in str(err.value)
    sticky = os.path.join(base, 'sticky')
    os.mkdir(sticky, 0o1777)
    os.chmod(base, 0o755)
    mine = os.path.join(sticky, 'mine')
    os.mkdir(mine)
    os.chown(mine, STRANGER_UID, 0)
    os.mkdir(os.path.join(mine, 'cache'))
    for root in (mine, os.path.join(mine, 'cache')):
        with pytest.raises(errors.RefusedRoot) as err:
            engine.run(root, GID, engine.Options(jobs=jobs))
        assert 'sticky' in str(err.value)


@pytest.mark.parametrize('path', ['/etc/ssl', '/etc/default', '/usr/share/doc', '/usr/local/lib/python3',
                                  '/boot/grub', '/var/lib/dpkg/info', '/lib/x86_64-linux-gnu', '/root/.ssh',
                                  '/run/lock', '/sys/kernel', '/dev/shm', '/proc/self/fd', '/sbin/x', '/var/log/apt'])
def test_system_trees_are_refused_with_what_is_allowed(path):
    with pytest.raises(errors.RefusedRoot) as err:
        engine.run(path, GID, engine.Options(repair=False))
    assert 'system directory' in str(err.value) and '/var/cache/uv' in str(err.value)


@JOBS
def test_the_root_that_was_checked_is_the_one_walked(base, outside, jobs):
    """A swap of the root right after it was opened: the walk goes on in the directory that was checked."""
    good_tree(base)
    tree = make_dir(os.path.join(base, 'tree'))
    os.chmod(base, 0o755)
    make_file(os.path.join(tree, 'f'), mode=0o600)
    real_open_root = roots.open_root

    def open_then_swap(path):
        opened = real_open_root(path)
        os.rename(tree, tree + '.old')
        os.symlink(outside, tree)
        return opened
    before = snapshot(outside)
    roots.open_root = open_then_swap
    try:
        result = engine.run(tree, GID, engine.Options(jobs=jobs, is_member=MEMBERS))
    finally:
        roots.open_root = real_open_root
    assert result['fixed'] == {'group_perms': 1}
    assert mode_of(os.path.join(tree + '.old', 'f')) == 0o660
    assert snapshot(outside) == before
