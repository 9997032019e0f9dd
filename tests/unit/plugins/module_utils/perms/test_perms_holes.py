# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attacks of issue 7, the way a hostile member (or a careless admin) would plant them.

Every attack is planted in the part of the tree the run's own process walks and in the
subtrees a parallel run hands to its forked workers (``archive-v0/w*``, five of them so
that the splitter hands them out), and every test runs serially and with jobs=2.
"""

from __future__ import absolute_import, division, print_function

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.perms import cli, engine, links, mounts

from perms_testlib import (
    GID, MEMBER_UID, OTHER_GID, STRANGER_UID, autofs_trigger, bind_mount, can_open_as, getfacl, good_tree,
    make_dir, make_file, mkdirs_at, mode_of, setfacl, snapshot, temp_group,
)

MEMBERS = {MEMBER_UID}
JOBS = pytest.mark.parametrize('jobs', [1, 2])
WORKER_SUBTREES = 5


def run(root, jobs, **kwargs):
    kwargs.setdefault('is_member', MEMBERS)
    kwargs.setdefault('max_samples', 1000)
    return engine.run(root, GID, jobs=jobs, **kwargs)


def places(base):
    """The directories an attack is planted in: one the parent walks, five the workers walk."""
    good_tree(base)
    out = [make_dir(os.path.join(base, 'top'))]
    for i in range(WORKER_SUBTREES):
        out.append(make_dir(os.path.join(base, 'archive-v0', 'w%d' % i)))
    for d in out[1:]:
        make_dir(os.path.join(d, 'pkg'))
    return out


def forked(forks, jobs):
    return forks[0] >= 1 if jobs > 1 else forks[0] == 0


def findings_of_a_child_run(base, jobs, **kwargs):
    """engine.run in a child process with a timeout: a run that hangs (an automount triggered) fails the test."""
    code = ('import json, sys; sys.path[:0] = %r; from perms_testlib import MEMBER_UID;'
            'from ansible_collections.uvfleet.uv.plugins.module_utils.perms import engine;'
            'print(json.dumps(engine.run(%r, %d, jobs=%d, is_member={MEMBER_UID}, **%r)["findings"]))'
            % (sys.path, base, GID, jobs, kwargs))
    proc = subprocess.run([sys.executable, '-c', code], stdout=subprocess.PIPE, timeout=60, check=True)
    return json.loads(proc.stdout.decode())


def samples_of(result, kind):
    return dict((s['path'], s) for s in result['samples'] if s['kind'] == kind)


@pytest.fixture
def outside(base):
    """A root-owned directory outside the tree with a secret, a tool and a subdirectory."""
    path = tempfile.mkdtemp(prefix='perms-outside-', dir=os.path.dirname(base))
    os.chmod(path, 0o700)
    make_file(os.path.join(path, 'secret'), mode=0o600, gid=0)
    make_file(os.path.join(path, 'tool'), mode=0o755, gid=0)
    os.mkdir(os.path.join(path, 'sub'), 0o755)
    make_file(os.path.join(path, 'sub', 'deep'), mode=0o600, gid=0)
    yield path
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if os.path.ismount(full):
            subprocess.call(['umount', '-l', full])
    shutil.rmtree(path, ignore_errors=True)


# -- hole 1: named ACL entries ----------------------------------------------------------------------


def plant_named_acls(d):
    """A member's named entries for an outsider: live, dormant (mask ---), default ACL, group entries."""
    j = os.path.join
    live = make_file(j(d, 'live.py'))
    setfacl('-m', 'u:%d:rwx' % STRANGER_UID, live)
    dormant = make_file(j(d, 'dormant.py'))
    setfacl('-m', 'u:%d:rw-' % STRANGER_UID, dormant)
    os.chmod(dormant, 0o600)  # mask::--- : the entry sleeps until a chmod raises the mask
    grp_file = make_file(j(d, 'group.py'))
    setfacl('-m', 'g:%d:rw-' % OTHER_GID, grp_file)
    nest = make_dir(j(d, 'nest'))
    setfacl('-m', 'u:%d:rwx' % STRANGER_UID, nest)
    setfacl('-d', '-m', 'u:%d:rwx,g:%d:rwx' % (STRANGER_UID, OTHER_GID), nest)
    member = make_file(j(d, 'member.py'))
    setfacl('-m', 'u:%d:rw-,g:%d:rw-' % (MEMBER_UID, GID), member)  # allowed: a member, the group itself
    return live, dormant, grp_file, nest, member


@JOBS
def test_named_acl_entries_for_outsiders_are_found_and_removed_before_any_mask_is_raised(base, forks, jobs):
    planted = [plant_named_acls(d) for d in places(base)]
    before = snapshot(base)
    audit = run(base, jobs, repair=False)
    assert audit['findings']['acl_named'] == 4 * len(planted)
    assert snapshot(base) == before  # the audit changed nothing
    named = samples_of(audit, 'acl_named')
    live, dormant = planted[-1][0], planted[-1][1]
    assert 'user:%d(' % STRANGER_UID in named[live]['current']  # the principal is named
    assert 'dormant' in named[dormant]['current']
    assert 'default ACL' in named[planted[0][3]]['current']

    result = run(base, jobs)
    assert result['fixed']['acl_named'] == 4 * len(planted)
    assert forked(forks, jobs)
    for live, dormant, grp_file, nest, member in planted:
        for path in (live, dormant, grp_file, nest):
            text = ','.join(getfacl(path) + getfacl(path, default=True) if os.path.isdir(path) else getfacl(path))
            assert ':%d:' % STRANGER_UID not in text and ':%d:' % OTHER_GID not in text, (path, text)
        assert mode_of(dormant) == 0o660  # the mask was raised for the group, the outsider's entry gone first
        assert 'user:%d:rw-' % MEMBER_UID in getfacl(member) and 'group:%d:rw-' % GID in getfacl(member)
    again = run(base, jobs)
    assert again['changed'] is False and again['findings'] == {}


@JOBS
def test_with_others_read_the_outsider_really_loses_write_access(base, forks, jobs):
    """others=read opens the directories to everyone: the outsider's named entry was the only way to write."""
    targets = []
    for d in places(base):
        target = make_file(os.path.join(d, 'appendable.py'), mode=0o640)
        setfacl('-m', 'u:%d:rw-' % STRANGER_UID, target)
        os.chmod(target, 0o604)  # dormant, mask ---; others r
        targets.append(target)
    for dirpath, dirs, _files in os.walk(base):
        os.chmod(dirpath, 0o2775)
    run(base, jobs, others='read')
    assert forked(forks, jobs)
    for target in targets:
        assert can_open_as(STRANGER_UID, STRANGER_UID, target, os.O_RDONLY)  # others: read
        assert not can_open_as(STRANGER_UID, STRANGER_UID, target, os.O_WRONLY | os.O_APPEND)
    assert not can_open_as(STRANGER_UID, STRANGER_UID, os.path.join(base, 'new.py'), os.O_WRONLY | os.O_CREAT)


@JOBS
def test_acl_allow_lists_principals(base, forks, jobs):
    for d in places(base):
        plant_named_acls(d)
    allow = ['user:%d' % STRANGER_UID, 'group:%d' % OTHER_GID]
    result = run(base, jobs, repair=False, acl_allow=allow)
    assert 'acl_named' not in result['findings']
    with pytest.raises(engine.PermsError) as err:
        run(base, jobs, acl_allow=['user:no-such-user-uvfleet'])
    assert 'no such user' in str(err.value)
    with pytest.raises(engine.PermsError):
        run(base, jobs, acl_allow=['someone'])


# -- hole 2: symlinks decided hop by hop -------------------------------------------------------------


def chain(d, length, end):
    """l0000 -> l0001 -> ... -> l<length-1> -> end, all in directory d."""
    for i in range(length - 1):
        os.symlink('c%04d' % (i + 1), os.path.join(d, 'c%04d' % i))
    os.symlink(end, os.path.join(d, 'c%04d' % (length - 1)))


@JOBS
def test_symlink_chains_cost_a_bounded_time_and_the_run_still_reports(base, outside, forks, jobs):
    ds = places(base)
    chain(ds[0], 1000, 'good.py')
    make_file(os.path.join(ds[0], 'good.py'))
    for d in ds[1:3]:
        chain(os.path.join(d, 'pkg'), 990, os.path.join(outside, 'secret'))
    start = time.time()
    result = run(base, jobs, repair=False)
    elapsed = time.time() - start
    assert forked(forks, jobs)
    # the kernel follows at most 40 links: deeper links of a chain are unresolvable (counted),
    # the 40 nearest its end are inside (first chain) or outside (the others)
    assert result['findings']['symlink_outside'] == (1000 - 40) + 2 * 990
    assert elapsed < 30, elapsed  # resolving by path took 10 s for two chains of 990 alone
    unresolvable = [s for s in result['samples'] if 'unresolvable' in s['current']]
    assert unresolvable


@JOBS
def test_a_link_longer_than_path_max_that_leaves_the_tree_is_outside_not_dangling(base, outside, forks, jobs):
    ds = places(base)
    long_names = ['d%02d' % i + 'x' * 240 for i in range(18)]  # about 4,400 bytes of directories
    fars = []
    for d in (ds[0], ds[3]):
        fd = mkdirs_at(d, long_names)
        os.symlink(outside, 'escape', dir_fd=fd)  # the deepest directory holds a link out ...
        os.symlink('escape/secret', 'far', dir_fd=fd)  # ... and a short link through it
        os.close(fd)
        fars.append(os.path.join(d, *long_names) + '/far')
    assert len(fars[0]) > 4096  # resolving it by path: ENAMETOOLONG, then taken for dangling
    result = run(base, jobs, repair=False)
    assert forked(forks, jobs)
    outside_links = samples_of(result, 'symlink_outside')
    for far in fars:
        assert far in outside_links, far
        assert outside_links[far]['current'].startswith('-> escape/secret (resolves to %s/secret' % outside)
    assert 'symlink_dangling' not in result['findings']


@JOBS
def test_link_resolution_never_looks_outside_the_tree(base, outside, forks, jobs):
    """A link into a hung automount outside the tree: resolving it by path as root hangs the run."""
    with autofs_trigger(os.path.join(outside, 'auto')):
        for d in places(base):
            os.symlink(os.path.join(outside, 'auto', 'server', 'share'), os.path.join(d, 'nfs'))
        findings = findings_of_a_child_run(base, jobs, repair=False)
    assert findings['symlink_outside'] == 1 + WORKER_SUBTREES


def test_resolver_bounds():
    assert links.MAX_HOPS == 40 and links.MAX_LOOKUPS <= 1024


# -- hole 3: exclusions -----------------------------------------------------------------------------


def plant_lock_lookalikes(d, outside):
    j = os.path.join
    real = make_file(j(d, 'pkg.lock'), mode=0o666)  # what uv makes: left alone
    evil = make_file(j(d, 'evil.lock'), mode=0o4755)
    stash = make_dir(j(d, 'stash.lock'), mode=0o2777)
    inner = make_file(j(stash, 'payload'), mode=0o6777)
    os.mkfifo(j(d, 'pipe.lock'))
    os.symlink(j(outside, 'secret'), j(d, 'shadow.lock'))
    return real, evil, stash, inner


@JOBS
def test_lock_exclusion_matches_only_uv_lock_files(base, outside, forks, jobs):
    planted = [plant_lock_lookalikes(d, outside) for d in places(base)]
    n = len(planted)
    result = run(base, jobs, exclude_locks=['*.lock'])
    assert forked(forks, jobs)
    assert result['excluded'] == n
    assert result['fixed']['setuid_setgid'] == 2 * n
    assert result['fixed']['world_writable'] == 2 * n
    assert result['remaining'] == {'symlink_outside': n, 'special_file': n}
    for real, evil, stash, inner in planted:
        assert mode_of(real) == 0o666
        assert mode_of(evil) == 0o770 and mode_of(stash) == 0o2770 and mode_of(inner) == 0o770


@JOBS
def test_an_exclusion_never_hides_what_is_dangerous(base, outside, forks, jobs):
    ds = places(base)
    for d in ds:
        plant_lock_lookalikes(d, outside)
        builds = make_dir(os.path.join(d, 'builds-v0'), mode=0o755)
        make_file(os.path.join(builds, 'plain'), mode=0o600)  # harmless: stays excluded, unchanged
        make_file(os.path.join(builds, 'suid'), mode=0o4755)
        open_dir = make_dir(os.path.join(builds, 'open'), mode=0o777)
        make_file(os.path.join(open_dir, 'sgid'), mode=0o2755)
        os.mkfifo(os.path.join(builds, 'fifo'))
        os.symlink('/etc/shadow', os.path.join(builds, 'shadow'))
        acl = make_file(os.path.join(builds, 'acl'))
        setfacl('-m', 'u:%d:rw-' % STRANGER_UID, acl)
    n = len(ds)
    plain = os.path.join(ds[-1], 'builds-v0', 'plain')
    audit = run(base, jobs, repair=False, exclude=['*.lock', '*/builds-v*'])
    assert forked(forks, jobs)
    f = audit['findings']
    assert f['setuid_setgid'] == 4 * n  # evil.lock, stash.lock/payload, builds-v0/suid, builds-v0/open/sgid
    assert f['world_writable'] == 3 * n  # stash.lock/, builds-v0/open/, stash.lock/payload (6777)
    assert f['special_file'] == 2 * n and f['symlink_outside'] == 2 * n and f['acl_named'] == n
    result = run(base, jobs, exclude=['*.lock', '*/builds-v*'])
    assert result['remaining'] == {'symlink_outside': 2 * n, 'special_file': 2 * n}
    assert mode_of(plain) == 0o600 and os.stat(plain).st_gid == GID


@JOBS
def test_links_between_managed_roots_only(base, outside, forks, jobs):
    """The role's tool and bin dirs: links into the other managed dirs are normal, anything else is not."""
    j = os.path.join
    python = make_dir(j(base, 'python'))
    tools = make_dir(j(base, 'tools'))
    bin_dir = make_dir(j(base, 'bin'))
    for d in (python, tools, bin_dir):
        os.chmod(d, 0o2770)
    os.chmod(base, 0o755)
    make_dir(j(python, 'cpython-3.12.3'))
    make_dir(j(python, 'cpython-3.12.3', 'bin'))
    make_file(j(python, 'cpython-3.12.3', 'bin', 'python3.12'), mode=0o770)
    os.symlink('cpython-3.12.3', j(python, 'cpython-3.12'))  # uv's minor-version link
    os.symlink('/etc', j(python, 'escape'))
    for i in range(WORKER_SUBTREES + 1):
        venv = make_dir(j(tools, 'tool%d' % i))
        make_dir(j(venv, 'bin'))
        os.symlink(j(python, 'cpython-3.12', 'bin', 'python3.12'), j(venv, 'bin', 'python'))
        os.symlink(j(venv, 'bin', 'python'), j(bin_dir, 'tool%d' % i))
        os.symlink('/etc/shadow', j(venv, 'bin', 'shadow'))  # a member's link: a finding
        os.symlink(j(python, 'escape', 'shadow'), j(venv, 'bin', 'via-python'))  # leaves through python/escape
        os.symlink(j(python, '..', '..', os.path.basename(outside), 'secret'), j(venv, 'bin', 'dotdot'))
    result = run([tools, bin_dir], jobs, repair=False, link_roots=[python, tools, bin_dir])
    assert result['findings'] == {'symlink_outside': 3 * (WORKER_SUBTREES + 1)}
    assert not [s for s in result['samples'] if s['path'].startswith(bin_dir)]
    plain = run([tools, bin_dir], jobs, repair=False)
    assert plain['findings'] == {'symlink_outside': 5 * (WORKER_SUBTREES + 1)}


# -- hole 4: the group argument -----------------------------------------------------------------------


BAD_GROUPS = ['4294967295', '4294967296', '99999999999999999999', '\u00b2', '\u0664\u0663\u0664\u0663', '-1',
              '+4343', '0x10', '', '   ', 'no-such-group-uvfleet', '54321']


@JOBS
@pytest.mark.parametrize('group', BAD_GROUPS)
def test_a_group_that_does_not_resolve_is_refused_before_anything_changes(base, jobs, group):
    good_tree(base)
    make_file(os.path.join(base, 'f'), mode=0o600, gid=0)
    before = snapshot(base)
    with pytest.raises(engine.UnknownGroup) as err:
        engine.run(base, group, jobs=jobs)
    assert 'group' in str(err.value).lower() or 'GID' in str(err.value)
    assert snapshot(base) == before


def test_the_command_refuses_bad_groups_with_a_message(base, capsys):
    good_tree(base)
    for group in ('\u00b2', '4294967296', '54321'):
        assert cli.main(['-g', group, '--repair', base]) == 2
        err = capsys.readouterr().err
        assert 'uvfleet audit: ' in err and 'Traceback' not in err


@JOBS
def test_a_group_whose_name_is_a_number(base, forks, jobs):
    good_tree(base)
    f = make_file(os.path.join(base, 'f'), gid=0)
    with temp_group('98765', 4346):
        result = engine.run(base, '98765', jobs=jobs, is_member=MEMBERS)  # no GID 98765: the name wins
        assert result['group'] == 4346 and os.stat(f).st_gid == 4346
    with temp_group(str(OTHER_GID), 4347):  # the name of GID 4347 and the GID of another group
        with pytest.raises(engine.UnknownGroup) as err:
            engine.run(base, str(OTHER_GID), jobs=jobs)
        assert 'ambiguous' in str(err.value)


# -- hole 5: the root path ------------------------------------------------------------------------------


@JOBS
def test_a_symlink_in_an_ancestor_of_the_root_is_refused(base, outside, jobs):
    a = os.path.join(base, 'a')
    os.mkdir(a, 0o755)
    os.makedirs(os.path.join(outside, 'elsewhere', 'pkg'))
    os.symlink(os.path.join(outside, 'elsewhere'), os.path.join(a, 'abc'))
    before = snapshot(outside)
    with pytest.raises(engine.RefusedRoot) as err:
        engine.run(os.path.join(a, 'abc', 'pkg'), GID, jobs=jobs)
    assert 'symlink' in str(err.value)
    assert snapshot(outside) == before


@JOBS
def test_a_root_whose_ancestors_members_can_change_is_refused(base, jobs):
    good_tree(base)  # base: 2770, group-writable
    with pytest.raises(engine.RefusedRoot) as err:
        engine.run(os.path.join(base, 'archive-v0', 'abc'), GID, jobs=jobs)
    assert 'ancestor' in str(err.value) and 'root' in str(err.value)
    sticky = os.path.join(base, 'sticky')
    os.mkdir(sticky, 0o1777)
    os.chmod(base, 0o755)
    mine = os.path.join(sticky, 'mine')
    os.mkdir(mine)
    os.chown(mine, STRANGER_UID, 0)
    os.mkdir(os.path.join(mine, 'cache'))
    for root in (mine, os.path.join(mine, 'cache')):
        with pytest.raises(engine.RefusedRoot) as err:
            engine.run(root, GID, jobs=jobs)
        assert 'sticky' in str(err.value)


@pytest.mark.parametrize('path', ['/etc/ssl', '/etc/default', '/usr/share/doc', '/usr/local/lib/python3',
                                  '/boot/grub', '/var/lib/dpkg/info', '/lib/x86_64-linux-gnu', '/root/.ssh',
                                  '/run/lock', '/sys/kernel', '/dev/shm', '/proc/self/fd', '/sbin/x', '/var/log/apt'])
def test_system_trees_are_refused_with_what_is_allowed(path):
    with pytest.raises(engine.RefusedRoot) as err:
        engine.run(path, GID, repair=False)
    assert 'system directory' in str(err.value) and '/var/cache/uv' in str(err.value)


@JOBS
def test_the_root_that_was_checked_is_the_one_walked(base, outside, jobs):
    """A swap of the root right after it was opened: the walk goes on in the directory that was checked."""
    good_tree(base)
    tree = make_dir(os.path.join(base, 'tree'))
    os.chmod(base, 0o755)
    make_file(os.path.join(tree, 'f'), mode=0o600)
    real_open_root = engine.open_root

    def open_then_swap(path):
        opened = real_open_root(path)
        os.rename(tree, tree + '.old')
        os.symlink(outside, tree)
        return opened
    before = snapshot(outside)
    engine.open_root = open_then_swap
    try:
        result = engine.run(tree, GID, jobs=jobs, is_member=MEMBERS)
    finally:
        engine.open_root = real_open_root
    assert result['fixed'] == {'group_perms': 1}
    assert mode_of(os.path.join(tree + '.old', 'f')) == 0o660
    assert snapshot(outside) == before


# -- hole 6: one file system, one mount ---------------------------------------------------------------


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
