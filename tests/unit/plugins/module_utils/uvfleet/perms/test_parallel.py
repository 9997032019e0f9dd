# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The parallel walk (jobs > 1): the same report and the same resulting tree as the serial walk."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import engine
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import parallel
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import errors
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms.report import Report
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.fs import walk as W

from perms_testlib import (
    GID, MEMBER_UID, NODE_COMMAND, OTHER_GID, STRANGER_UID, good_tree, make_dir, make_file, ramfs, setfacl, temp_base,
    cleanup,
)

MEMBERS = {MEMBER_UID}
SUBTREES = 6
MAX_DEPTH = 8


def damage_subtree(d, outside):
    """Every kind of finding below directory d (depths 3 to 8 of the tree)."""
    j = os.path.join
    make_dir(j(d, 'pkg'))
    make_dir(j(d, 'pkg', 'sub'))
    make_file(j(d, 'pkg', 'ok.py'))
    make_file(j(d, 'pkg', 'g0'), gid=0)
    make_file(j(d, 'pkg', 'f644'), mode=0o644)
    make_file(j(d, 'pkg', 'sub', 'f666'), mode=0o666, gid=OTHER_GID)
    make_file(j(d, 'pkg', 'sub', 'suid'), mode=0o4770)
    make_file(j(d, 'pkg', 'sub', 'tool'), mode=0o750)
    make_dir(j(d, 'nosgid'), mode=0o770)
    make_dir(j(d, 'sticky'), mode=0o3770)
    make_dir(j(d, 'ww'), mode=0o2777)
    make_dir(j(d, 'noacl'), default_acl=False)
    make_dir(j(d, 'badacl'))
    setfacl('-d', '-m', 'g::r-x', j(d, 'badacl'))
    make_dir(j(d, 'aclgroup'))
    setfacl('-m', 'g::r-x,g:17:rwx,m::rwx', j(d, 'aclgroup'))
    fd = os.open(j(d, 'pkg', 'tmp0600'), os.O_CREAT | os.O_WRONLY, 0o600)  # mask::--- (uv#5496)
    os.close(fd)
    os.symlink('/etc/passwd', j(d, 'pkg', 'out'))
    os.symlink('missing', j(d, 'dangling'))
    os.symlink('pkg/sub', j(d, 'sub-link'))  # inside: no finding
    os.mkfifo(j(d, 'pkg', 'fifo'))
    os.link(outside, j(d, 'pkg', 'hardlink'))  # root-owned, foreign: left alone
    member = make_file(j(d, 'pkg', 'member'), mode=0o600, uid=MEMBER_UID)
    os.link(member, j(d, 'pkg', 'member2'))  # a member's hardlink: fixed
    make_file(j(d, 'pkg', 'stranger'), mode=0o640, uid=STRANGER_UID)  # one link: fixed
    deep = j(d, 'pkg')
    for i in range(5):
        deep = j(deep, 'l%d' % i)
        make_dir(deep, mode=0o750, gid=0)  # the last one is too deep (MAX_DEPTH)
    make_dir(j(d, 'excluded'), mode=0o700, gid=0)
    make_file(j(d, 'excluded', 'x'), mode=0o600, gid=0)


def build(root, outside):
    """A tree with every kind of finding, in many subtrees two levels down (the workers' tasks) and above."""
    good_tree(root)
    for bucket in ('archive-v0', 'builds-v0'):
        if not os.path.isdir(os.path.join(root, bucket)):
            make_dir(os.path.join(root, bucket))
        for i in range(SUBTREES):
            d = make_dir(os.path.join(root, bucket, 'id%02d' % i), mode=0o2770 if i % 2 else 0o750)
            damage_subtree(d, outside)
    # the single-child chain the splitter follows: wheels-v5/pypi/<pkg>
    make_dir(os.path.join(root, 'wheels-v5', 'pypi'))
    for i in range(3):
        d = make_dir(os.path.join(root, 'wheels-v5', 'pypi', 'p%d' % i), mode=0o2775)
        make_file(os.path.join(d, 'w.http'), mode=0o644)
    make_file(os.path.join(root, 'top'), mode=0o600)  # handled by the parent
    make_dir(os.path.join(root, 'topdir'), mode=0o755, gid=0)


@pytest.fixture
def twins():
    """Two identical damaged trees, and a root-owned file outside both."""
    bases = [temp_base(), temp_base()]
    outside = os.path.join(bases[0] + '-outside')
    make_file(outside, mode=0o600, gid=0)
    for b in bases:
        build(b, outside)
    yield bases[0], bases[1], outside
    for b in bases:
        cleanup(b)
    os.unlink(outside)


def run(root, **kwargs):
    kwargs.setdefault('is_member', MEMBERS)
    kwargs.setdefault('max_depth', MAX_DEPTH)
    kwargs.setdefault('exclude', ['*/excluded'])
    return engine.run(root, GID, engine.Options(**kwargs))


def tree_state(root):
    """Relative path -> what a repair may change (mode, owner, group, xattrs)."""
    state = {}
    for dirpath, dirs, files in os.walk(root):
        for name in [''] + dirs + files:
            p = os.path.join(dirpath, name) if name else dirpath
            st = os.lstat(p)
            try:
                xattrs = tuple(sorted((n, os.getxattr(p, n, follow_symlinks=False))
                                      for n in os.listxattr(p, follow_symlinks=False)))
            except OSError:
                xattrs = ()
            state[os.path.relpath(p, root)] = (st.st_mode, st.st_uid, st.st_gid, st.st_nlink, xattrs)
    return state


def comparable(result, root):
    """The report with paths relative to the root, samples and diff lines as sorted lists."""
    out = dict(result)
    out.pop('duration')
    out.pop('paths', None)
    out['acl_supported'] = sorted(out['acl_supported'].values())
    out['runs'] = [dict(r, path=r['path'].replace(root, 'ROOT')) for r in out['runs']]

    def rel(text):
        return text.replace(root, 'ROOT')
    out['samples'] = sorted(tuple(rel(str(v)) for v in sorted(s.items())) for s in out['samples'])
    out['diff'] = dict((k, sorted(rel(v).splitlines())) for k, v in out['diff'].items())
    return out


@pytest.mark.parametrize('jobs', [2, 3])
def test_same_report_and_tree_as_serial(twins, forks, jobs):
    serial_root, parallel_root, outside = twins
    outside_before = os.lstat(outside)
    assert tree_state(serial_root) == tree_state(parallel_root)
    for kwargs in ({'repair': False}, {'repair': True, 'dry_run': True}, {'repair': True}, {'repair': True}):
        forks[0] = 0
        serial = run(serial_root, max_samples=10000, max_diff=10000, jobs=1, **kwargs)
        assert forks[0] == 0
        parallel = run(parallel_root, max_samples=10000, max_diff=10000, jobs=jobs, **kwargs)
        assert forks[0] == jobs - 1, 'the parallel path did not run'
        assert comparable(parallel, parallel_root) == comparable(serial, serial_root), kwargs
        assert tree_state(parallel_root) == tree_state(serial_root), kwargs
    # the first repair fixed; the second found only what is never fixed
    assert serial['changed'] is False and serial['fixed'] == {}
    assert os.lstat(outside) == outside_before


def test_every_kind_is_found_by_the_workers(twins, forks, monkeypatch):
    """The tree really has each kind inside the subtrees the workers walk, with the expected counts."""
    root = twins[1]
    merged = []
    real_merge = Report.merge

    def merge(self, state):
        merged.append(state)
        return real_merge(self, state)
    monkeypatch.setattr(Report, 'merge', merge)
    result = run(root, repair=False, jobs=2, max_samples=10000)
    n = 2 * SUBTREES
    findings = result['findings']
    for kind in ('wrong_group', 'dir_not_setgid', 'group_perms', 'others_perms', 'default_acl_missing'):
        assert findings[kind] >= n, kind
    assert findings['world_writable'] == 2 * n
    for kind in ('dir_sticky', 'setuid_setgid', 'acl_mask', 'acl_group', 'acl_named', 'default_acl_wrong',
                 'symlink_outside', 'special_file', 'too_deep', 'hardlink_foreign', 'symlink_dangling'):
        assert findings[kind] == n, kind
    assert result['excluded'] == 2 * n  # the excluded directory and the file below it
    # and the worker (a forked process) found its share of them
    assert len(merged) == 1 and merged[0]['scanned'] > 0
    assert set(merged[0]['findings']) >= {'wrong_group', 'group_perms', 'acl_mask', 'symlink_outside'}


def test_samples_and_diff_stay_bounded_and_deterministic(twins, forks):
    root = twins[1]
    full = run(root, repair=True, dry_run=True, max_samples=10000, max_diff=10000, jobs=1)
    all_samples = set(json.dumps(s, sort_keys=True) for s in full['samples'])
    all_before = set(full['diff']['before'].splitlines())
    first = None
    for _i in range(3):
        result = run(root, repair=True, dry_run=True, max_samples=7, max_diff=5, jobs=2)
        assert len(result['samples']) == 7
        assert set(json.dumps(s, sort_keys=True) for s in result['samples']) <= all_samples
        lines = result['diff']['before'].splitlines()
        assert len(lines) == 6 and set(lines[:5]) <= all_before
        assert lines[5] == '... %d more entries' % (full['entries_changed'] - 5)
        assert result['findings'] == full['findings']
        if first is None:
            first = result
        assert result['samples'] == first['samples'] and result['diff'] == first['diff']
    assert run(root, repair=False, max_samples=0, jobs=2)['samples'] == []


def test_walker_split_and_tasks_cover_the_tree(base):
    good_tree(base)
    for i in range(4):
        make_dir(os.path.join(base, 'archive-v0', 'x%d' % i))
        make_file(os.path.join(base, 'archive-v0', 'x%d' % i, 'f'))
    plain = W.Walker(base)
    everything = sorted((e[0], e[3]) for e in plain)
    walker = W.Walker(base)
    walker.split = parallel.Splitter()
    got = [(e[0], e[3]) for e in walker]
    assert len(walker.tasks) == 5 and len(walker.kept_fds) == 1  # archive-v0/{abc,x0..x3}
    for task in walker.tasks:
        got.extend((e[0], e[3]) for e in walker.walk_task(*task))
    assert sorted(got) == everything
    assert walker.scanned == plain.scanned
    walker.close_kept()
    assert walker.kept_fds == []


def test_no_fd_leak_and_no_zombie(base):
    good_tree(base)
    for i in range(6):
        make_dir(os.path.join(base, 'archive-v0', 'x%d' % i))
    before = len(os.listdir('/proc/self/fd'))
    run(base, jobs=2)
    run(base, jobs=4, repair=False)
    assert len(os.listdir('/proc/self/fd')) == before
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def tree_for_workers(base):
    """A tree with enough subtrees to hand out; returns (parent pid, the real _Run.walk_tasks)."""
    good_tree(base)
    for i in range(6):
        make_dir(os.path.join(base, 'archive-v0', 'x%d' % i))
    return os.getpid(), engine.Runner.walk_tasks


def test_worker_failure_is_an_error(base, monkeypatch):
    parent, real = tree_for_workers(base)

    def walk_tasks(self, walker, tasks, first, last):
        if os.getpid() != parent:
            raise RuntimeError('boom in the worker')
        time.sleep(0.1)  # leave chunks to the worker
        return real(self, walker, tasks, first, last)
    monkeypatch.setattr(engine.Runner, 'walk_tasks', walk_tasks)
    with pytest.raises(errors.PermsError, match='boom in the worker'):
        run(base, jobs=2)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_workers_never_write_to_stdout(base, monkeypatch, capfd):
    parent, real = tree_for_workers(base)

    def walk_tasks(self, walker, tasks, first, last):
        if os.getpid() != parent:
            sys.stdout.write('noise from a worker\n')
            sys.stdout.flush()
            os.write(1, b'raw noise from a worker\n')
        else:
            time.sleep(0.1)  # leave chunks to the worker
        return real(self, walker, tasks, first, last)
    monkeypatch.setattr(engine.Runner, 'walk_tasks', walk_tasks)
    sys.stdout.write('buffered before the fork ')  # must appear once, not once per process
    run(base, jobs=2)
    out = capfd.readouterr().out
    assert 'noise' not in out
    assert out.count('buffered before the fork') == 1


def test_cli_jobs(base):
    good_tree(base)
    for i in range(6):
        make_file(os.path.join(make_dir(os.path.join(base, 'archive-v0', 'x%d' % i)), 'f'), mode=0o600)
    script = NODE_COMMAND
    reports = []
    for jobs in ('1', '2', 'auto', '0'):
        proc = subprocess.run([sys.executable, script, 'audit', '-g', str(GID), '--jobs', jobs, '--compact', base],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.decode().splitlines()
        assert len(lines) == 1
        report = json.loads(lines[0])
        report.pop('duration')
        reports.append(report)
    assert reports[0]['findings'] == {'group_perms': 6}
    assert all(r == reports[0] for r in reports)
    proc = subprocess.run([sys.executable, script, 'audit', '-g', str(GID), '--jobs', '-1', base],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    assert proc.returncode == 2


def test_resolve_jobs():
    cpus = engine.resolve_jobs(0)
    assert cpus >= 1
    assert engine.resolve_jobs(None) == engine.resolve_jobs('auto') == cpus
    assert engine.resolve_jobs(1) == 1 and engine.resolve_jobs('3') == 3
    assert engine.resolve_jobs(10 ** 6) == parallel.MAX_JOBS
    for bad in (-1, 'many'):
        with pytest.raises(errors.PermsError):
            engine.resolve_jobs(bad)


def test_mount_point_in_a_worker_subtree(base, forks):
    good_tree(base)
    for i in range(4):
        make_dir(os.path.join(base, 'archive-v0', 'x%d' % i))
    with ramfs(os.path.join(base, 'archive-v0', 'x1', 'mnt')):
        make_file(os.path.join(base, 'archive-v0', 'x1', 'mnt', 'f'), mode=0o600, gid=0)
        result = run(base, jobs=2)
        assert forks[0] == 1
        assert result['findings'] == {'other_filesystem': 1}
        assert os.lstat(os.path.join(base, 'archive-v0', 'x1', 'mnt', 'f')).st_mode & 0o777 == 0o600


def test_orphaned_worker_stops(base, monkeypatch):
    """A worker whose parent is gone (a killed module run) stops before its next subtree."""
    good_tree(base)
    for i in range(6):
        make_file(os.path.join(make_dir(os.path.join(base, 'archive-v0', 'x%d' % i)), 'f'), mode=0o600)
    real = engine.Runner.walk_tasks

    def walk_tasks(self, walker, tasks, first, last):
        if self.parent_pid is None:
            time.sleep(0.1)  # leave chunks to the worker
        return real(self, walker, tasks, first, last)
    monkeypatch.setattr(engine.Runner, 'walk_tasks', walk_tasks)
    monkeypatch.setattr(os, 'getppid', lambda: 1)  # as seen by the worker after its parent died
    with pytest.raises(errors.PermsError, match='wait status %d' % (75 << 8)):
        run(base, jobs=2)
