# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cache_perms module, run the way Ansible runs it (a child process reading its arguments)."""

from __future__ import absolute_import, division, print_function

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

pytest.importorskip('ansible.module_utils.basic')

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import module_runner  # noqa: E402 pylint: disable=wrong-import-position


pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='runs as root on temporary trees')

GID = 4343


@pytest.fixture
def tree():
    root = tempfile.mkdtemp(prefix='perms-module-')
    os.chown(root, 0, GID)
    os.chmod(root, 0o2770)
    subprocess.check_call(['setfacl', '-d', '-m', 'u::rwx,g::rwx,m::rwx,o::---', root])
    fd = os.open(os.path.join(root, 'f'), os.O_CREAT | os.O_WRONLY, 0o600)
    os.fchown(fd, 0, 0)
    os.fchmod(fd, 0o644)
    os.close(fd)
    yield root
    shutil.rmtree(root)


def test_check_mode_then_repair(tree, tmp_path):
    f = os.path.join(tree, 'f')
    st = os.lstat(f)
    result = module_runner.run_module('cache_perms', tmp_path, path=tree, group=str(GID), _ansible_check_mode=True, _ansible_diff=True)
    assert result['changed'] is True and result['mode'] == 'check'
    assert result['would_fix'] == {'wrong_group': 1, 'acl_mask': 1, 'others_perms': 1}
    assert result['diff']['before'] == '%s: mode 0644 group 0\n' % f
    assert os.lstat(f) == st
    result = module_runner.run_module('cache_perms', tmp_path, path=[tree], group=str(GID))
    assert result['changed'] is True and result['fixed'] == result['findings']
    assert result['gid'] == GID and result['acl_supported'] == {tree: True}
    assert os.lstat(f).st_mode & 0o777 == 0o660
    result = module_runner.run_module('cache_perms', tmp_path, path=tree, group=str(GID), fail_on_findings=True)
    assert result['changed'] is False and not result.get('failed')


def test_audit_and_fail_on_findings(tree, tmp_path):
    result = module_runner.run_module('cache_perms', tmp_path, path=tree, group=str(GID), repair=False)
    assert result['changed'] is False and result['mode'] == 'audit'
    assert result['remaining'] == result['findings']
    result = module_runner.run_module('cache_perms', tmp_path, path=tree, group=str(GID), repair=False, fail_on_findings=True)
    assert result['failed'] is True and '3 findings remain' in result['msg']
    assert os.lstat(os.path.join(tree, 'f')).st_mode & 0o777 == 0o644


def test_refusals(tmp_path, tree):
    result = module_runner.run_module('cache_perms', tmp_path, path='/etc', group=str(GID))
    assert result['failed'] is True and 'system directory /etc' in result['msg']
    result = module_runner.run_module('cache_perms', tmp_path, path=tree, group='no-such-group-uvfleet')
    assert result['failed'] is True and 'numeric GID' in result['msg']
    result = module_runner.run_module('cache_perms', tmp_path, path=tree, group=str(GID), acl='sometimes')
    assert result['failed'] is True


def test_jobs(tree, tmp_path):
    """jobs=2 forks workers inside the module run: one clean JSON result on stdout, the same counts."""
    archive = os.path.join(tree, 'archive-v0')
    os.mkdir(archive)
    for i in range(6):
        d = os.path.join(archive, 'x%d' % i)
        os.mkdir(d)
        fd = os.open(os.path.join(d, 'f'), os.O_CREAT | os.O_WRONLY, 0o600)
        os.fchown(fd, 0, 0)
        os.close(fd)
    audit = module_runner.run_module('cache_perms', tmp_path, path=tree, group=str(GID), repair=False, jobs=1)
    parallel = module_runner.run_module('cache_perms', tmp_path, path=tree, group=str(GID), repair=False, jobs=2)
    assert parallel['findings'] == audit['findings'] and parallel['scanned'] == audit['scanned'] == 15
    assert audit['findings']['wrong_group'] == 7
    repaired = module_runner.run_module('cache_perms', tmp_path, path=tree, group=str(GID), jobs=0)
    assert repaired['fixed'] == audit['findings']
    again = module_runner.run_module('cache_perms', tmp_path, path=tree, group=str(GID), jobs=2)
    assert again['changed'] is False and again['findings'] == {}
    result = module_runner.run_module('cache_perms', tmp_path, path=tree, group=str(GID), jobs=-1)
    assert result['failed'] is True and 'jobs must be' in result['msg']


def test_probe_reflink_answers_per_path_and_leaves_nothing(tree, tmp_path):
    before = sorted(os.listdir(tree))
    result = module_runner.run_module('cache_perms', tmp_path, path=tree, group=str(GID), repair=False,
                                      exclude=['*'], probe_reflink=True)
    scratch = tempfile.mkdtemp(dir=os.path.dirname(tree))
    with open(os.path.join(scratch, 'a'), 'w') as handle:
        handle.write('x')
    cp = subprocess.call(['cp', '--reflink=always', os.path.join(scratch, 'a'), os.path.join(scratch, 'b')],
                         stderr=subprocess.DEVNULL)
    shutil.rmtree(scratch)
    assert result['reflink_supported'] == {tree: cp == 0}   # what cp --reflink=always says there
    assert sorted(os.listdir(tree)) == before
    result = module_runner.run_module('cache_perms', tmp_path, path=tree, group=str(GID), repair=False)
    assert 'reflink_supported' not in result


def test_check_mode_probes_no_reflinks_and_moves_no_time_of_the_dir(tree, tmp_path):
    # the probe's files would move the directory's mtime and ctime: check mode changes nothing
    st = os.lstat(tree)
    result = module_runner.run_module('cache_perms', tmp_path, path=tree, group=str(GID), repair=False,
                                      exclude=['*'], probe_reflink=True, _ansible_check_mode=True)
    assert 'reflink_supported' not in result and result['changed'] is False
    after = os.lstat(tree)
    assert (after.st_mtime_ns, after.st_ctime_ns) == (st.st_mtime_ns, st.st_ctime_ns)


MEMBER_UID = 4545


def test_create_makes_missing_roots_through_checked_fds_and_check_mode_makes_nothing(tmp_path):
    base = tempfile.mkdtemp(prefix='perms-module-')
    try:
        os.chmod(base, 0o755)
        path = os.path.join(base, 'srv', 'uv', 'cache')
        result = module_runner.run_module('cache_perms', tmp_path, path=[path], group=str(GID), create=True,
                                          _ansible_check_mode=True)
        assert result['changed'] is True and result['created'] == [path] and not os.path.lexists(os.path.join(base, 'srv'))
        result = module_runner.run_module('cache_perms', tmp_path, path=[path], group=str(GID), create=True)
        assert result['changed'] is True and result['created'] == [path], result
        for parent in (os.path.join(base, 'srv'), os.path.dirname(path)):
            st = os.lstat(parent)
            assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, 0o755)
        st = os.lstat(path)
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, GID, 0o2770)   # made 0700, then repaired
        again = module_runner.run_module('cache_perms', tmp_path, path=[path], group=str(GID), create=True)
        assert again['changed'] is False and again['created'] == []
    finally:
        shutil.rmtree(base)


def test_create_never_makes_or_changes_anything_through_a_members_link(tmp_path):
    """Where a shared dir is to be made, a member planted a symlink (or owns a directory on the way): refused,
    and the directory the link names is not touched."""
    base = tempfile.mkdtemp(prefix='perms-module-')
    try:
        os.chmod(base, 0o755)
        victim = os.path.join(base, 'roots')
        os.mkdir(victim, 0o700)
        hers = os.path.join(base, 'scratch')
        os.mkdir(hers, 0o755)
        os.chown(hers, MEMBER_UID, GID)
        os.symlink(victim, os.path.join(hers, 'uvcache'))
        os.symlink(victim, os.path.join(base, 'link'))
        for path, why in ((os.path.join(hers, 'uvcache'), 'can be changed by users other than root'),
                          (os.path.join(hers, 'new', 'cache'), 'can be changed by users other than root'),
                          (os.path.join(base, 'link', 'cache'), 'symlink')):
            result = module_runner.run_module('cache_perms', tmp_path, path=[path], group=str(GID), create=True)
            assert result.get('failed') and why in result['msg'], (path, result)
        st = os.lstat(victim)
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, 0o700) and os.listdir(victim) == []
        assert sorted(os.listdir(hers)) == ['uvcache']
    finally:
        shutil.rmtree(base)


def test_create_refuses_system_directories_before_it_makes_anything(tmp_path):
    base = tempfile.mkdtemp(prefix='perms-module-')
    try:
        os.chmod(base, 0o755)
        fine = os.path.join(base, 'cache')
        for system in ('/mnt', '/var/log/uv', '/etc/uvcache'):
            result = module_runner.run_module('cache_perms', tmp_path, path=[fine, system], group=str(GID), create=True)
            assert result.get('failed') and system.split('/uv', maxsplit=1)[0] in result['msg'], result
            assert not os.path.lexists(fine)
    finally:
        shutil.rmtree(base)


def test_incremental_by_default_full_on_request(tree, tmp_path, monkeypatch):
    """The module's runs are incremental after a clean one; full: true checks every entry; check mode records nothing."""
    state = os.path.join(str(tmp_path), 'state')
    monkeypatch.setenv('UVFLEET_PERMS_STATE_DIR', state)  # the module's child process inherits it
    check = module_runner.run_module('cache_perms', tmp_path, path=tree, group=str(GID), _ansible_check_mode=True)
    assert check['run'] == 'full' and 'check mode' in check['runs'][0]['reason']
    assert not os.path.exists(state)
    first = module_runner.run_module('cache_perms', tmp_path, path=tree, group=str(GID))
    assert first['run'] == 'full' and first['fixed'] and os.listdir(state)
    second = module_runner.run_module('cache_perms', tmp_path, path=tree, group=str(GID), repair=False)
    assert second['run'] == 'incremental', second['runs']
    assert second['checked_in_full'] + second['unchanged'] == second['scanned']
    forced = module_runner.run_module('cache_perms', tmp_path, path=tree, group=str(GID), repair=False, full=True)
    assert forced['run'] == 'full' and forced['runs'][0]['reason'] == 'asked for (full)'
    assert forced['unchanged'] == 0
