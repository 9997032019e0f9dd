# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``uv cache prune`` for the job (maintain/prune.py): through uv's lock, as the worker account, never as root."""

from __future__ import absolute_import, division, print_function

import fcntl
import json
import os
import shutil
import time

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.maintain import prune
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet import nodeconfig

from maintain_testlib import UV, WORKER, series, maintain_main
from metrics_testlib import samples, value
from perms_testlib import GID, MEMBER_UID, cleanup, make_dir, make_file, root_only_base

pytestmark = pytest.mark.skipif(UV is None, reason='uv (requirements-dev.txt) is not on PATH')


def test_a_held_cache_lock_skips_the_prune_cleanly_and_is_no_failure(node, capsys):
    node['write'](maintenance_lock_timeout=2)
    orphan = os.path.join(node['cache'], 'archive-v0', 'orphan')
    os.mkdir(orphan)
    with open(os.path.join(node['cache'], '.lock'), 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)  # what every running uv command holds
        start = time.time()
        code, out, err = maintain_main(capsys)
        waited = time.time() - start
        assert os.path.isdir(orphan)     # nothing pruned under a running command
        fcntl.flock(lock, fcntl.LOCK_UN)
    assert code == 0, (out, err)
    assert waited >= 2
    assert 'prune skipped (the cache lock stayed busy for 2 s' in out and out.startswith('uvfleet maintain: ok')
    m = samples(node['metrics'])
    assert series(m, 'uvfleet_cache_prune_outcome') == {'pruned': 0, 'skipped': 1, 'failed': 0, 'off': 0}
    assert value(m, 'uvfleet_maintenance_success') == 1
    assert value(m, 'uvfleet_cache_prune_lock_timeout_seconds') == 2
    assert ('uvfleet_cache_prune_removed_files', frozenset()) not in m
    # the next round, with the lock free, prunes
    assert maintain_main(capsys)[0] == 0 and not os.path.exists(orphan)


def test_a_uv_writable_by_others_than_root_is_never_run(node, tmp_path, capsys):
    fake_dir = str(tmp_path / 'bin')
    os.mkdir(fake_dir)
    shutil.copy(UV, os.path.join(fake_dir, 'uv'))
    os.chmod(os.path.join(fake_dir, 'uv'), 0o775)
    node['write'](real_bin_dir=fake_dir)
    code, out, err = maintain_main(capsys)
    assert code == 1 and 'prune failed' in out and 'refusing to run' in err
    m = samples(node['metrics'])
    assert series(m, 'uvfleet_cache_prune_outcome')['failed'] == 1
    assert value(m, 'uvfleet_perms_repair_success', dir=node['cache']) == 1


def test_a_uv_under_a_directory_members_can_write_is_never_run(node, request, capsys):
    # root's uv and its directory are root's 0755, but an ancestor is group-writable: a member
    # could rename the directory away and put their own `uv` in its place
    home = root_only_base()
    request.addfinalizer(lambda: cleanup(home))
    ancestor = os.path.join(home, 'shared')
    os.makedirs(os.path.join(ancestor, 'bin'), 0o755)
    shutil.copy(UV, os.path.join(ancestor, 'bin', 'uv'))
    os.chown(ancestor, 0, GID)
    os.chmod(ancestor, 0o2775)
    node['write'](real_bin_dir=os.path.join(ancestor, 'bin'))
    code, out, err = maintain_main(capsys)
    assert code == 1 and 'prune failed' in out and 'refusing to run' in err and ancestor in err, (out, err)


def test_prune_off_ci_and_options(node, capsys):
    code, out, _err = maintain_main(capsys, '--prune', 'off', '--metrics-file', '')
    assert code == 0 and 'prune off' in out
    code, out, _err = maintain_main(capsys, '--prune', 'ci', '--json')
    assert code == 0
    result = json.loads(out.split('\n', 1)[1])
    assert result['prune']['outcome'] == 'pruned' and result['success']
    assert maintain_main(capsys, '--prune', 'sometimes')[0] == 2


def test_the_prune_runs_as_the_worker_with_a_members_rights_only(node, tmp_path, capsys):
    """A directory the group cannot write is beyond the prune: it is not root that prunes."""
    junk = os.path.join(node['cache'], 'not-a-bucket')  # prune removes every top-level entry it does not know
    os.mkdir(junk, 0o755)                                # root's, the group may not delete in it
    make_file(os.path.join(junk, 'roots-file'), mode=0o644, gid=0)
    config = nodeconfig.load()
    result = prune.prune(config, 'normal', 30)  # the prune alone: the repair would open junk to the group
    assert result['user'] == WORKER
    assert result['outcome'] == 'failed' and 'Permission denied' in result['detail'], result
    assert os.path.exists(os.path.join(junk, 'roots-file'))
    # once the group may write there (what the repair before it makes of the cache), the prune removes it
    assert maintain_main(capsys, '--prune', 'normal', '--metrics-file', '')[0] == 0
    assert not os.path.lexists(junk)


def test_a_missing_or_wrong_worker_account_fails_the_prune_and_never_runs_it_as_root(node, capsys):
    orphan = os.path.join(node['cache'], 'archive-v0', 'orphan')
    os.mkdir(orphan)
    for user, why in (('uvfleet-no-such-user', 'does not exist'), ('root', 'uid 0'),
                      ('nobody', 'primary GID'), ('', 'no worker account')):
        node['write'](worker_user=user)
        code, out, err = maintain_main(capsys, '--metrics-file', '')
        assert code == 1 and 'prune failed' in out and why in err, (user, out, err)
        assert os.path.isdir(orphan)


def _swapper(evil, victim, stop_at):
    """A member's process: swap each directory of evil for a symlink to victim, over and over."""
    pid = os.fork()
    if pid:
        return pid
    try:
        os.setgroups([])
        os.setgid(GID)
        os.setuid(MEMBER_UID)
        while time.time() < stop_at:
            for name in os.listdir(evil):
                if name.endswith('.x') or os.path.islink(os.path.join(evil, name)):
                    continue
                try:
                    os.rename(os.path.join(evil, name), os.path.join(evil, name + '.x'))
                    os.symlink(victim, os.path.join(evil, name))
                except OSError:
                    pass
    finally:
        os._exit(0)


def test_a_member_swapping_directories_for_symlinks_during_the_prune_deletes_nothing_outside(node, tmp_path,
                                                                                             capsys):
    """uv removes by path: a directory swapped for a symlink while it runs is followed (DESIGN.md 2c).

    The member prepares a large directory at the cache's top level (prune removes it) and
    swaps its subdirectories for links to a directory of root's while the prune runs. Run
    as root, the prune empties root's directory through the links; as the worker it cannot.
    """
    victim = str(tmp_path / 'roots-data')
    os.mkdir(victim, 0o755)
    victims = [make_file(os.path.join(victim, 'precious-%d' % i), mode=0o644, gid=0) for i in range(50)]
    for attempt in range(8):
        evil = os.path.join(node['cache'], 'member-junk')
        make_dir(evil, uid=MEMBER_UID)
        for i in range(3000):
            sub = make_dir(os.path.join(evil, 'd%04d' % i), uid=MEMBER_UID, default_acl=False)
            make_file(os.path.join(sub, 'f'), uid=MEMBER_UID)
        swapper = _swapper(evil, victim, time.time() + 30)
        try:
            maintain_main(capsys, '--prune', 'normal', '--metrics-file', '')
        finally:
            os.kill(swapper, 9)
            os.waitpid(swapper, 0)
        assert all(os.path.exists(v) for v in victims), 'round %d: the prune deleted through a member\'s link' % attempt
        assert os.path.isdir(victim)
        shutil.rmtree(evil, ignore_errors=True)
