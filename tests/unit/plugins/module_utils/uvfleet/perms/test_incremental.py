# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Incremental audits (perms/incremental.py): what changed since the last clean run is checked, the rest keeps
its verdict, and nothing a member does after the watermark hides.  Real files, real ACLs, run as root; every
attack serially and with a parallel walk.

The tests use a small margin (``MARGIN``) and wait ``SETTLE`` between steps, so that entries made before a
run are older than its watermark by more than the margin without waiting seconds; the margin itself is tested
with the default one (``test_margin_covers_coarse_timestamps``).
"""

from __future__ import absolute_import, division, print_function

import json
import os
import stat
import struct
import time

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import engine, incremental

from perms_testlib import GID, STRANGER_UID, make_dir, make_file, ramfs, setfacl

MARGIN = 0.02
SETTLE = 0.06
JOBS = [1, 2]


def settle():
    time.sleep(SETTLE)


@pytest.fixture
def state(base):
    """A root-only state dir beside the tree (the tests never touch /var/lib/uvfleet)."""
    path = os.path.join(os.path.dirname(base), os.path.basename(base) + '-state')
    yield path
    if os.path.isdir(path):
        for name in os.listdir(path):
            os.unlink(os.path.join(path, name))
        os.rmdir(path)


def cache_tree(root, width=6):
    """A compliant tree shaped like a cache: buckets, archive ids with nested dirs (tasks for a parallel walk)."""
    os.chown(root, 0, GID)
    os.chmod(root, 0o2770)
    setfacl('-d', '-m', 'u::rwx,g::rwx,m::rwx,o::---', root)
    make_dir(os.path.join(root, 'archive-v0'))
    make_dir(os.path.join(root, 'wheels-v5'))
    for i in range(width):
        top = make_dir(os.path.join(root, 'archive-v0', 'id%d' % i))
        pkg = make_dir(os.path.join(top, 'pkg'))
        deep = make_dir(os.path.join(pkg, 'deep'))
        for d in (top, pkg, deep):
            for j in range(3):
                make_file(os.path.join(d, 'f%d.py' % j))
        os.symlink('../archive-v0/id%d' % i, os.path.join(root, 'wheels-v5', 'p%d' % i))
    return root


def audit(root, state_dir, jobs, **options):
    options.setdefault('margin', MARGIN)
    options.setdefault('repair', False)
    return engine.run(root, GID, engine.Options(state_dir=state_dir, jobs=jobs, **options))


def clean_run(root, state_dir, jobs, **options):
    """A tree settled, then a clean run that leaves a state; returns its result."""
    settle()
    first = audit(root, state_dir, jobs, **options)
    assert first['remaining'] == {}, first
    settle()
    return first


def incremental_run(root, state_dir, jobs, **options):
    """A run that must be incremental and must have skipped entries (the safeguards were really in play)."""
    result = audit(root, state_dir, jobs, **options)
    assert result['run'] == 'incremental', result['runs']
    assert result['unchanged'] > 0
    assert result['checked_in_full'] == result['scanned'] - result['unchanged']
    return result


def state_file(state_dir):
    names = [n for n in os.listdir(state_dir) if n.endswith('.json')]
    assert len(names) == 1, names
    return os.path.join(state_dir, names[0])


def edit_state(state_dir, **changes):
    path = state_file(state_dir)
    with open(path) as handle:
        data = json.load(handle)
    data.update(changes)
    with open(path, 'w') as handle:
        json.dump(data, handle)
    return data


def named_acl(uid):
    """Kernel xattr form of an access ACL u::rw-,u:UID:rwx,g::rw-,m::rwx,o::---."""
    entries = ((0x01, 6, 0xFFFFFFFF), (0x02, 7, uid), (0x04, 6, 0xFFFFFFFF), (0x10, 7, 0xFFFFFFFF), (0x20, 0, 0xFFFFFFFF))
    return struct.pack('<I', 2) + b''.join(struct.pack('<HHI', *e) for e in entries)


# -- the incremental run itself -------------------------------------------------------------------


@pytest.mark.parametrize('jobs', JOBS)
def test_second_run_skips_unchanged_entries(base, state, forks, jobs):
    cache_tree(base)
    first = clean_run(base, state, jobs)
    assert first['run'] == 'full' and first['runs'][0]['reason'] == 'no state (first run)'
    second = incremental_run(base, state, jobs)
    # the root changes at every run (the marker), so its buckets are checked; below them everything is skipped
    # except the direct entries of the buckets (their ctimes did not move here: they are skipped too)
    assert second['checked_in_full'] < second['scanned'] // 4
    assert second['remaining'] == {}
    st = os.stat(state_file(state))
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    assert not [n for n in os.listdir(base) if n.startswith('.uvfleet-watermark-')]
    assert forks[0] == (2 if jobs > 1 else 0)  # one worker per run


@pytest.mark.parametrize('jobs', JOBS)
def test_new_entries_in_a_bucket_checked_the_rest_skipped(base, state, jobs):
    """uv adds archive ids every day: the bucket's ctime moves, its new entries are checked, old ids keep skipping."""
    cache_tree(base)
    clean_run(base, state, jobs)
    new = make_dir(os.path.join(base, 'archive-v0', 'new'))
    bad = make_file(os.path.join(new, 'bad.py'), mode=0o664)
    result = incremental_run(base, state, jobs)
    assert result['remaining'] == {'others_perms': 1}
    assert result['samples'][0]['path'] == bad


@pytest.mark.parametrize('jobs', JOBS)
def test_full_asked_for(base, state, jobs):
    cache_tree(base)
    clean_run(base, state, jobs)
    result = audit(base, state, jobs, full=True)
    assert result['run'] == 'full' and result['runs'][0]['reason'] == 'asked for (full)'
    assert result['unchanged'] == 0
    assert incremental_run(base, state, jobs)['remaining'] == {}


# -- attacks after the watermark --------------------------------------------------------------------


@pytest.mark.parametrize('jobs', JOBS)
@pytest.mark.parametrize('attack', ['chmod', 'setfacl', 'setfattr'])
def test_change_after_the_watermark_is_found(base, state, jobs, attack):
    cache_tree(base)
    clean_run(base, state, jobs)
    target = os.path.join(base, 'archive-v0', 'id3', 'pkg', 'deep', 'f1.py')
    if attack == 'chmod':
        os.chmod(target, 0o664)
        expected = {'others_perms': 1}
    elif attack == 'setfacl':
        setfacl('-m', 'u:%d:rwx' % STRANGER_UID, target)
        expected = {'acl_named': 1}
    else:
        os.setxattr(target, 'system.posix_acl_access', named_acl(STRANGER_UID))
        expected = {'acl_named': 1}
    result = incremental_run(base, state, jobs)
    assert result['remaining'] == expected, result
    assert result['samples'][0]['path'] == target


def _prepared_subtree(path):
    """Prepared by a member before the watermark, outside the tree: named ACL entries, setgid files, 0777 dirs."""
    top = make_dir(path)
    inner = make_dir(os.path.join(top, 'inner'))
    deeper = make_dir(os.path.join(inner, 'deeper'), mode=0o2777)
    make_file(os.path.join(inner, 'suid.py'), mode=0o2770)
    acl = make_file(os.path.join(deeper, 'acl.py'))
    setfacl('-m', 'u:%d:rwx' % STRANGER_UID, acl)
    return top


@pytest.mark.parametrize('jobs', JOBS)
def test_subtree_prepared_before_and_renamed_in(base, state, jobs):
    cache_tree(base)
    elsewhere = _prepared_subtree(os.path.join(os.path.dirname(base), os.path.basename(base) + '-prepared'))
    clean_run(base, state, jobs)  # the subtree is older than the watermark
    os.rename(elsewhere, os.path.join(base, 'archive-v0', 'id2', 'moved'))
    result = incremental_run(base, state, jobs)
    assert result['remaining'] == {'world_writable': 1, 'others_perms': 1, 'setuid_setgid': 1, 'acl_named': 1}, result


@pytest.mark.parametrize('jobs', JOBS)
def test_hardlink_added(base, state, outside, jobs):
    """uv's others-x on a file grants nothing in a closed root, until the file gets a second name elsewhere."""
    cache_tree(base)
    target = make_file(os.path.join(base, 'archive-v0', 'id4', 'pkg', 'deep', 'tool'), mode=0o771)
    clean_run(base, state, jobs)
    os.link(target, os.path.join(outside, 'second-name'))
    result = incremental_run(base, state, jobs)
    # root's file with two names: reported, and left alone by a repair (root is no member)
    assert result['remaining'] == {'others_perms': 1, 'hardlink_foreign': 1}, result


@pytest.mark.parametrize('jobs', JOBS)
def test_file_swapped_for_one_with_an_old_ctime(base, state, jobs):
    cache_tree(base)
    old = make_file(os.path.join(os.path.dirname(base), os.path.basename(base) + '-old'), mode=0o664)
    clean_run(base, state, jobs)
    target = os.path.join(base, 'archive-v0', 'id1', 'pkg', 'f0.py')
    os.rename(old, target)
    result = incremental_run(base, state, jobs)
    assert result['remaining'] == {'others_perms': 1}, result


@pytest.mark.parametrize('jobs', JOBS)
def test_directory_inode_reused(base, state, jobs):
    """A remembered directory removed after the watermark and its inode number given to a new one: not known."""
    cache_tree(base)
    victim = os.path.join(base, 'archive-v0', 'id5', 'pkg', 'deep')
    ino = os.stat(victim).st_ino
    clean_run(base, state, jobs)
    for name in os.listdir(victim):
        os.unlink(os.path.join(victim, name))
    os.rmdir(victim)
    parent = os.path.join(base, 'archive-v0', 'id5', 'pkg')
    reused = None
    for i in range(200):
        path = os.path.join(parent, 'again%d' % i)
        os.mkdir(path)
        if os.stat(path).st_ino == ino:
            reused = path
            break
    if reused is None:
        pytest.skip('the file system did not reuse the inode number')
    os.chown(reused, 0, GID)
    os.chmod(reused, 0o2770)
    os.setxattr(reused, 'system.posix_acl_default', os.getxattr(parent, 'system.posix_acl_default'))
    bad = make_file(os.path.join(reused, 'bad.py'), mode=0o664)
    for name in os.listdir(parent):
        if name.startswith('again') and os.path.join(parent, name) != reused:
            os.rmdir(os.path.join(parent, name))
    result = incremental_run(base, state, jobs)
    assert result['remaining'] == {'others_perms': 1}, result
    assert result['samples'][0]['path'] == bad


# -- what the state may not be trusted for ---------------------------------------------------------------


@pytest.mark.parametrize('jobs', JOBS)
def test_watermark_in_the_future_means_a_full_run(base, state, jobs):
    cache_tree(base)
    clean_run(base, state, jobs)
    target = os.path.join(base, 'archive-v0', 'id0', 'pkg', 'f2.py')
    os.chmod(target, 0o664)
    edit_state(state, watermark=time.time() + 3600)
    result = audit(base, state, jobs)
    assert result['run'] == 'full' and 'clock went back' in result['runs'][0]['reason']
    assert result['remaining'] == {'others_perms': 1}


@pytest.mark.parametrize('jobs', JOBS)
def test_margin_covers_coarse_timestamps(base, state, jobs):
    """A change whose ctime lies within the margin before the watermark (a 1 s or 2 s clock tick) is checked."""
    cache_tree(base)
    clean_run(base, state, jobs)
    target = os.path.join(base, 'archive-v0', 'id2', 'pkg', 'deep', 'f0.py')
    os.chmod(target, 0o664)
    # as if the file system had stamped the change and the next marker in the same coarse tick, up to 1 s apart
    edit_state(state, watermark=os.stat(target).st_ctime + 1.0)
    time.sleep(1.1)  # this run's watermark is later than the stored one (no clock-went-back full run)
    result = audit(base, state, jobs, margin=incremental.MARGIN)
    assert result['run'] == 'incremental', result['runs']
    assert result['remaining'] == {'others_perms': 1}


@pytest.mark.parametrize('jobs', JOBS)
@pytest.mark.parametrize('change', ['others', 'exclude', 'engine'])
def test_policy_or_engine_change_means_a_full_run(base, state, jobs, change, monkeypatch):
    cache_tree(base)
    target = make_file(os.path.join(base, 'archive-v0', 'id3', 'pkg', 'deep', 'readable.py'), mode=0o664)
    os.chmod(os.path.join(base, 'archive-v0', 'id3', 'pkg', 'deep', 'f0.py'), 0o600)
    clean_run(base, state, jobs, others='read', exclude=['*/f0.py'])
    options = {'others': 'read', 'exclude': ['*/f0.py']}
    if change == 'others':
        options['others'] = 'none'
        expected = {'others_perms': 1}
    elif change == 'exclude':
        del options['exclude']
        expected = {'group_perms': 1}  # f0.py (0600) no longer excluded
    else:
        monkeypatch.setattr(incremental, '_DIGEST', ['another engine'])
        expected = {}
    result = audit(base, state, jobs, **options)
    assert result['run'] == 'full', result['runs']
    assert ('engine' if change == 'engine' else change) in result['runs'][0]['reason']
    assert result['unchanged'] == 0
    assert result['remaining'] == expected, result
    assert os.path.exists(target)


@pytest.mark.parametrize('jobs', JOBS)
def test_findings_left_no_new_watermark(base, state, jobs):
    cache_tree(base)
    clean_run(base, state, jobs)
    before = os.stat(state_file(state)).st_mtime_ns
    target = os.path.join(base, 'archive-v0', 'id1', 'f1.py')
    os.chmod(target, 0o664)
    first = incremental_run(base, state, jobs)
    assert first['remaining'] == {'others_perms': 1}
    assert os.stat(state_file(state)).st_mtime_ns == before
    settle()
    again = incremental_run(base, state, jobs)
    assert again['remaining'] == {'others_perms': 1}


@pytest.mark.parametrize('jobs', JOBS)
def test_interrupted_run_no_new_watermark(base, state, jobs, monkeypatch):
    """A run stopped in the middle of a directory saves nothing: the rest of that directory was never looked at."""
    cache_tree(base)
    deep = os.path.join(base, 'archive-v0', 'id3', 'pkg', 'deep')
    names = os.listdir(deep)  # the order the walk lists them in
    trigger, target = os.path.join(deep, names[0]), os.path.join(deep, names[-1])
    os.chmod(trigger, 0o770)  # a compliant state of its own: the walk hands it to the engine
    clean_run(base, state, jobs)
    os.chmod(target, 0o664)   # changed after the watermark, listed after the trigger
    settle()                  # and well before the watermark of the run that is stopped
    real = engine.Entries.entry

    def interrupted(self, parent_fd, name, rel, *args, **kwargs):
        if rel == os.path.relpath(trigger, base):
            raise KeyboardInterrupt('killed')
        return real(self, parent_fd, name, rel, *args, **kwargs)
    monkeypatch.setattr(engine.Entries, 'entry', interrupted)
    with pytest.raises((KeyboardInterrupt, engine.PermsError)):
        audit(base, state, jobs, full=True)
    monkeypatch.setattr(engine.Entries, 'entry', real)
    settle()
    result = incremental_run(base, state, jobs)
    assert result['remaining'] == {'others_perms': 1}, result
    assert result['samples'][0]['path'] == target


@pytest.mark.parametrize('jobs', JOBS)
@pytest.mark.parametrize('how', ['mode', 'owner', 'garbage', 'symlink'])
def test_bad_state_is_ignored(base, state, jobs, how):
    cache_tree(base)
    clean_run(base, state, jobs)
    path = state_file(state)
    target = os.path.join(base, 'archive-v0', 'id0', 'f0.py')
    os.chmod(target, 0o664)
    # trusted, this state would hide the change (a watermark after it)
    edit_state(state, watermark=os.stat(target).st_ctime + 3 * MARGIN)
    settle()
    if how == 'mode':
        os.chmod(path, 0o644)
    elif how == 'owner':
        os.chown(path, STRANGER_UID, 0)
    elif how == 'garbage':
        with open(path, 'w') as handle:
            handle.write('{"format": "uvfleet-perms-state", "version": 1, "watermark": "x"')
    else:
        os.rename(path, path + '.real')
        os.symlink(os.path.basename(path) + '.real', path)
    result = audit(base, state, jobs)
    assert result['run'] == 'full' and 'state ignored' in result['runs'][0]['reason'], result['runs']
    assert result['remaining'] == {'others_perms': 1}


def test_state_dir_not_root_only_is_not_used(base, state):
    cache_tree(base)
    os.mkdir(state, 0o700)
    os.chmod(state, 0o755)
    result = audit(base, state, 1)
    assert result['run'] == 'full' and 'must be root:root 0700' in result['runs'][0]['reason']
    assert os.listdir(state) == []


def test_check_mode_is_a_full_run_and_records_nothing(base, state):
    cache_tree(base)
    result = audit(base, state, 1, repair=True, dry_run=True)
    assert result['run'] == 'full' and 'check mode' in result['runs'][0]['reason']
    assert not os.path.exists(state)


@pytest.mark.parametrize('jobs', JOBS)
def test_user_named_in_an_acl_leaves_the_group(base, state, jobs):
    """A named entry for a member is compliant; once that user is no longer allowed, the file is a finding."""
    cache_tree(base)
    target = os.path.join(base, 'archive-v0', 'id2', 'pkg', 'deep', 'f1.py')
    setfacl('-m', 'u:4242:rwx', target)
    members = set([4242])
    clean_run(base, state, jobs, is_member=lambda uid: uid in members)
    assert 4242 in json.load(open(state_file(state)))['named_uids']
    members.clear()
    result = audit(base, state, jobs, is_member=lambda uid: uid in members)
    assert result['run'] == 'full' and 'uid 4242' in result['runs'][0]['reason']
    assert result['remaining'] == {'acl_named': 1}


# -- several roots of one run -----------------------------------------------------------------------------


@pytest.mark.parametrize('jobs', JOBS)
def test_roots_that_differ_keep_their_own_state(base, state, jobs):
    """A root on an ACL file system and one without ACLs (ramfs), one closed and one opened later: each its own."""
    first = cache_tree(make_dir(os.path.join(base, 'first')))
    second = cache_tree(make_dir(os.path.join(base, 'second')))
    tool = make_file(os.path.join(second, 'archive-v0', 'id1', 'pkg', 'deep', 'tool'), mode=0o771)
    with ramfs(os.path.join(base, 'noacl')) as noacl:
        os.chown(noacl, 0, GID)
        os.chmod(noacl, 0o2770)
        make_dir(os.path.join(noacl, 'd'), default_acl=False)
        make_dir(os.path.join(noacl, 'd', 'e'), default_acl=False)
        make_file(os.path.join(noacl, 'd', 'e', 'f.py'))
        roots = [first, second, noacl]
        clean_run(roots, state, jobs)
        assert len(os.listdir(state)) == 3
        result = incremental_run(roots, state, jobs)
        assert [r['kind'] for r in result['runs']] == ['incremental'] * 3
        assert result['acl_supported'] == {first: True, second: True, noacl: False}
        # the second root opened to others: uv's others-x on its files now grants something
        os.chmod(second, 0o2771)
        os.chmod(os.path.join(noacl, 'd', 'e', 'f.py'), 0o664)
        settle()
        result = audit(roots, state, jobs)
        runs = dict((r['path'], r) for r in result['runs'])
        assert runs[first]['kind'] == 'incremental' and runs[noacl]['kind'] == 'incremental'
        assert runs[second]['kind'] == 'full' and 'root_closed' in runs[second]['reason']
        assert result['remaining'] == {'others_perms': 3}, result  # the root, the tool, f.py
        assert any(s['path'] == tool for s in result['samples'])


@pytest.mark.parametrize('jobs', JOBS)
def test_links_left_do_not_block_the_watermark_and_stay_reported(base, state, jobs, outside):
    """A symlink out of the tree (a tool venv's python) is checked at every run: it does not keep the state back."""
    cache_tree(base)
    link = os.path.join(base, 'archive-v0', 'id1', 'pkg', 'python')
    os.symlink(os.path.join(outside, 'tool'), link)
    settle()
    first = audit(base, state, jobs)
    assert first['remaining'] == {'symlink_outside': 1}
    settle()
    os.chmod(os.path.join(base, 'archive-v0', 'id0', 'pkg', 'f1.py'), 0o664)
    result = incremental_run(base, state, jobs)
    assert result['remaining'] == {'symlink_outside': 1, 'others_perms': 1}, result


@pytest.mark.parametrize('jobs', JOBS)
def test_root_replaced_is_a_full_run(base, state, jobs):
    """Another directory at the root's path, with the old content moved in (old ctimes): not the state's root."""
    root = cache_tree(make_dir(os.path.join(base, 'root')))
    clean_run(root, state, jobs)
    fresh = make_dir(os.path.join(base, 'fresh'))
    os.chmod(fresh, 0o2770)
    setfacl('-d', '-m', 'u::rwx,g::rwx,m::rwx,o::---', fresh)
    for name in os.listdir(root):
        os.rename(os.path.join(root, name), os.path.join(fresh, name))
    os.rmdir(root)
    os.rename(fresh, root)
    settle()
    result = audit(root, state, jobs)
    assert result['run'] == 'full' and result['runs'][0]['reason'] == 'no state (first run)', result['runs']
    assert result['unchanged'] == 0 and result['remaining'] == {}
