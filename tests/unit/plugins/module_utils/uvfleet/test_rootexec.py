# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What root may run (rootexec.py): the real uv, on real files and directories owned by real uids;
each way a member could get root to run their program is refused, and the program is never run."""

from __future__ import absolute_import, division, print_function

import os
import shutil
import subprocess

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet import rootexec

from perms_testlib import MEMBER_UID, GID, cleanup, root_only_base

UV = shutil.which('uv')


@pytest.fixture
def home():
    path = root_only_base()
    yield path
    cleanup(path)


def install(directory, mode=0o755, uid=0):
    """A copy of the real uv at DIRECTORY/uv (a release binary, as a distro package or pip leaves it)."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, 'uv')
    shutil.copy(UV, path)
    os.chown(path, uid, 0)
    os.chmod(path, mode)
    return path


def test_a_root_only_uv_is_run_through_a_symlink_in_a_root_only_dir(home):
    real = install(os.path.join(home, 'usr', 'bin'))
    os.makedirs(os.path.join(home, 'opt'))
    os.symlink('../usr/bin', os.path.join(home, 'opt', 'bin'))  # a merged-/usr style link
    os.symlink(real, os.path.join(home, 'usr', 'bin', 'uvlink'))
    for given in (real, os.path.join(home, 'opt', 'bin', 'uv'), os.path.join(home, 'usr', 'bin', 'uvlink')):
        assert rootexec.check_executable(given) == real
    out = subprocess.run([rootexec.check_executable(real), '--version'], stdout=subprocess.PIPE, check=True)
    assert out.stdout.startswith(b'uv ')


@pytest.mark.parametrize('attack', ['member_owns_uv', 'group_writable_uv', 'member_writable_dir', 'member_owns_dir',
                                    'member_writable_ancestor', 'sticky_dir', 'link_through_member_dir'])
def test_what_a_member_could_change_is_refused(home, attack):
    good = os.path.join(home, 'lib', 'bin')
    path = install(good)
    if attack == 'member_owns_uv':
        os.chown(path, MEMBER_UID, GID)
    elif attack == 'group_writable_uv':
        os.chmod(path, 0o775)
    elif attack == 'member_writable_dir':
        os.chown(good, 0, GID)
        os.chmod(good, 0o2775)
    elif attack == 'member_owns_dir':
        os.chown(good, MEMBER_UID, 0)
    elif attack == 'member_writable_ancestor':
        os.chmod(os.path.join(home, 'lib'), 0o777)
    elif attack == 'sticky_dir':
        os.chmod(good, 0o1777)  # /tmp: root's file cannot be renamed, but names beside it can be planted
    else:
        planted = os.path.join(home, 'members')
        os.mkdir(planted)
        os.chown(planted, 0, GID)
        os.chmod(planted, 0o2770)
        os.symlink(good, os.path.join(planted, 'bin'))  # the member may swap this link for their own dir
        path = os.path.join(planted, 'bin', 'uv')
    with pytest.raises(rootexec.UntrustedExecutable) as refused:
        rootexec.check_executable(path)
    assert 'refusing to run' in str(refused.value), refused.value


def test_not_an_executable_file(home):
    path = install(os.path.join(home, 'bin'), mode=0o644)
    for given in (path, os.path.join(home, 'bin'), os.path.join(home, 'missing', 'uv'), 'uv'):
        with pytest.raises(rootexec.UntrustedExecutable):
            rootexec.check_executable(given)
    os.symlink('loop', os.path.join(home, 'loop'))
    with pytest.raises(rootexec.UntrustedExecutable, match='symlinks'):
        rootexec.check_executable(os.path.join(home, 'loop'))
