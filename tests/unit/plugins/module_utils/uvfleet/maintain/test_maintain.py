# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``uvfleet maintain``: repair, a real ``uv cache prune`` through uv's lock, the textfile, the exit status.

The cache is made by the real uv of requirements-dev.txt (the version the
install role pins) from a wheel built here, so prune decides with uv's own
rules what is referenced.
"""

from __future__ import absolute_import, division, print_function

import base64
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.cmd import main as command
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import engine
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.maintain import job as maintain
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet import nodeconfig

from metrics_testlib import samples, value
from perms_testlib import GID, MEMBER_UID, make_dir, make_file, mode_of
UV = shutil.which('uv')
WORKER = 'uvfleet-tworker'  # tests/unit/conftest.py makes it: the role's uv_shared_worker_user
pytestmark = pytest.mark.skipif(UV is None, reason='uv (requirements-dev.txt) is not on PATH')


def _wheel(directory, name='tinypkg', version='1.0'):
    """A minimal pure-Python wheel with a console script."""
    files = {
        '%s/__init__.py' % name: b'VALUE = 42\ndef main():\n    print(VALUE)\n',
        '%s-%s.dist-info/METADATA' % (name, version): ('Metadata-Version: 2.1\nName: %s\nVersion: %s\n'
                                                       % (name, version)).encode(),
        '%s-%s.dist-info/WHEEL' % (name, version): b'Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n'
                                                   b'Tag: py3-none-any\n',
        '%s-%s.dist-info/entry_points.txt' % (name, version): ('[console_scripts]\n%s = %s:main\n'
                                                               % (name, name)).encode(),
    }
    record = '%s-%s.dist-info/RECORD' % (name, version)
    lines = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
        lines.append('%s,sha256=%s,%d' % (path, digest, len(data)))
    lines.append('%s,,' % record)
    files[record] = ('\n'.join(lines) + '\n').encode()
    path = os.path.join(directory, '%s-%s-py3-none-any.whl' % (name, version))
    with zipfile.ZipFile(path, 'w') as whl:
        for member, data in files.items():
            whl.writestr(member, data)
    return path


def uv(cache, *args):
    env = dict(os.environ, UV_CACHE_DIR=cache, UV_NO_CONFIG='1', UV_LINK_MODE='copy', UV_OFFLINE='1',
               UV_PYTHON_DOWNLOADS='never')
    return subprocess.run([UV] + list(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)


@pytest.fixture
def node(base, tmp_path, monkeypatch):
    """A node as the role leaves it: a shared cache filled by real uv, a tool dir, the configuration."""
    cache = os.path.join(base, 'cache')
    tools = os.path.join(base, 'tools')
    for d in (cache, tools):
        make_dir(d)
    wheels = str(tmp_path / 'wheels')
    os.mkdir(wheels)
    _wheel(wheels)
    venv = str(tmp_path / 'venv')
    for args in (('venv', '-q', '-p', sys.executable, venv),
                 ('pip', 'install', '-q', '-p', venv, '--find-links', wheels, 'tinypkg')):
        done = uv(cache, *args)
        assert done.returncode == 0, done.stderr
    # the role's repair brings what uv (as root, umask 022) made under the policy
    code = command.main(['repair', '--group', str(GID), '--compact', '--exclude=*.lock', cache, tools])
    assert code == 0
    metrics_dir = str(tmp_path / 'node-exporter')
    os.mkdir(metrics_dir)
    config = {
        'group': str(GID), 'cache_dir': cache, 'managed_dirs': [cache, tools],
        'exclude': ['*.lock'], 'acl': 'auto', 'fallback_umask': '0007', 'real_bin_dir': os.path.dirname(UV),
        'metrics_file': os.path.join(metrics_dir, 'uvfleet.prom'), 'maintenance_prune': 'normal',
        'maintenance_lock_timeout': 30, 'worker_user': WORKER,
    }
    path = tmp_path / 'config.json'

    def write(**changes):
        data = dict(config, **changes)
        path.write_text(json.dumps(data))
        os.chmod(str(path), 0o644)
        return data

    monkeypatch.setattr(nodeconfig, 'DEFAULT_PATH', str(path))
    write()
    return {'cache': cache, 'tools': tools, 'venv': venv, 'wheels': wheels, 'write': write,
            'metrics': config['metrics_file']}


def series(table, name):
    return dict((dict(labels).get('kind') or dict(labels).get('outcome'), v)
                for (n, labels), v in table.items() if n == name)


def archive_entries(cache):
    return sorted(os.listdir(os.path.join(cache, 'archive-v0')))


def maintain_main(capsys, *argv):
    code = command.main(['maintain'] + list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_repairs_prunes_the_unreferenced_and_keeps_what_installs_use_and_writes_metrics(node, capsys):
    cache, tools = node['cache'], node['tools']
    (kept,) = archive_entries(cache)
    orphan = os.path.join(cache, 'archive-v0', 'orphan-left-by-a-killed-install')
    shutil.copytree(os.path.join(cache, 'archive-v0', kept), orphan)
    subprocess.check_call(['chown', '-R', 'root:%d' % GID, orphan])
    subprocess.check_call(['chmod', '-R', 'g+rwX,o-rwx', orphan])
    # damage: two files the group cannot write, one directory without setgid, one file with others r
    victims = []
    for top, _dirs, names in os.walk(os.path.join(cache, 'archive-v0', kept)):
        victims.extend(os.path.join(top, n) for n in names)
    victims.sort()
    for v in victims[:2]:
        os.chmod(v, 0o600)
    os.chmod(victims[2], 0o664)
    sub = make_dir(os.path.join(tools, 'sub'), mode=0o770)
    os.symlink(os.path.join(cache, 'archive-v0'), os.path.join(tools, 'sub', 'lib'))  # between managed dirs: fine
    os.symlink('/etc/shadow', os.path.join(tools, 'sub', 'python'))       # a member's link out of the tree
    os.symlink('/etc/shadow', os.path.join(cache, 'planted'))              # a finding in the cache
    script = make_file(os.path.join(tools, 'sub', 'script'), mode=0o771)   # uv's mode | 0o111: no finding

    code, out, err = maintain_main(capsys)
    assert code == 0, (out, err)
    assert out.startswith('uvfleet maintain: ok in ') and out.count('\n') == 1 and 'prune pruned' in out
    assert archive_entries(cache) == [kept]
    assert mode_of(victims[0]) & 0o060 == 0o060 and mode_of(victims[2]) & 0o007 == 0
    assert mode_of(sub) == 0o2770 and mode_of(script) == 0o771
    m = samples(node['metrics'])
    assert value(m, 'uvfleet_maintenance_success') == 1
    now = time.time()
    assert now - 60 < value(m, 'uvfleet_maintenance_last_success_timestamp_seconds') <= now
    assert value(m, 'uvfleet_maintenance_last_run_timestamp_seconds') == \
        value(m, 'uvfleet_maintenance_last_success_timestamp_seconds')
    cache_found = dict((dict(l)['kind'], v) for (n, l), v in m.items()
                       if n == 'uvfleet_perms_findings' and dict(l)['dir'] == cache)
    assert cache_found.get('others_perms') == 1 and cache_found.get('symlink_outside') == 1
    assert cache_found.get('group_perms', 0) + cache_found.get('acl_mask', 0) == 2
    tools_found = dict((dict(l)['kind'], v) for (n, l), v in m.items()
                       if n == 'uvfleet_perms_findings' and dict(l)['dir'] == tools)
    assert tools_found == {'dir_not_setgid': 1, 'symlink_outside': 1}
    remaining = dict(((dict(l)['dir'], dict(l)['kind']), v) for (n, l), v in m.items()
                     if n == 'uvfleet_perms_findings_remaining')
    # a link out of the managed dirs stays a finding in a tool dir too (no wholesale tolerance)
    assert remaining == {(cache, 'symlink_outside'): 1, (tools, 'symlink_outside'): 1}
    assert value(m, 'uvfleet_perms_entries_repaired', dir=cache) == 3
    assert value(m, 'uvfleet_perms_entries_repaired', dir=tools) == 1
    assert value(m, 'uvfleet_perms_repair_success', dir=cache) == 1
    assert series(m, 'uvfleet_cache_prune_outcome') == {'pruned': 1, 'skipped': 0, 'failed': 0, 'off': 0}
    assert value(m, 'uvfleet_cache_prune_removed_files') >= 4
    size = sum(os.lstat(os.path.join(t, n)).st_size for t, _d, ns in os.walk(cache) for n in ns
               if os.path.isfile(os.path.join(t, n)) and not os.path.islink(os.path.join(t, n)))
    assert value(m, 'uvfleet_cache_size_bytes') == size
    entries = sum(len(d) + len(n) for _t, d, n in os.walk(cache))
    assert value(m, 'uvfleet_cache_entries') == entries
    # what installs use is still there: a fresh venv installs offline from the cache
    fresh = node['venv'] + '-fresh'
    assert uv(cache, 'venv', '-q', '-p', sys.executable, fresh).returncode == 0
    again = uv(cache, 'pip', 'install', '-p', fresh, '--find-links', node['wheels'], 'tinypkg')
    assert again.returncode == 0, again.stderr
    assert archive_entries(cache) == [kept]  # served by the kept entry, nothing unpacked again
    # the second run finds nothing to repair
    code, out, err = maintain_main(capsys)
    assert code == 0 and '0 repaired' in out, out


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


def test_a_refused_directory_fails_the_run_keeps_the_last_success_and_repairs_the_rest(node, capsys):
    assert maintain_main(capsys)[0] == 0
    first = samples(node['metrics'])
    last_success = value(first, 'uvfleet_maintenance_last_success_timestamp_seconds')
    gone = os.path.join(os.path.dirname(node['cache']), 'vanished')
    node['write'](managed_dirs=[gone, node['tools']])
    bad = make_file(os.path.join(node['tools'], 'f'), mode=0o600)
    time.sleep(0.01)
    code, out, err = maintain_main(capsys)
    assert code == 1
    assert out.startswith('uvfleet maintain: FAILED') and '%s refused' % gone in out
    assert gone in err
    assert mode_of(bad) == 0o660
    m = samples(node['metrics'])
    assert value(m, 'uvfleet_maintenance_success') == 0
    assert value(m, 'uvfleet_maintenance_last_success_timestamp_seconds') == last_success
    assert value(m, 'uvfleet_maintenance_last_run_timestamp_seconds') > last_success
    assert value(m, 'uvfleet_perms_repair_success', dir=gone) == 0
    assert value(m, 'uvfleet_perms_repair_success', dir=node['tools']) == 1
    assert series(m, 'uvfleet_cache_prune_outcome')['off'] == 1  # the cache is not managed in this config


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


def test_prune_off_ci_and_options(node, capsys):
    code, out, _err = maintain_main(capsys, '--prune', 'off', '--metrics-file', '')
    assert code == 0 and 'prune off' in out
    code, out, _err = maintain_main(capsys, '--prune', 'ci', '--json')
    assert code == 0
    result = json.loads(out.split('\n', 1)[1])
    assert result['prune']['outcome'] == 'pruned' and result['success']
    assert maintain_main(capsys, '--prune', 'sometimes')[0] == 2


def test_a_node_that_manages_nothing_does_nothing(node, capsys):
    node['write'](managed_dirs=[])
    os.unlink(node['metrics']) if os.path.exists(node['metrics']) else None
    code, out, _err = maintain_main(capsys)
    assert code == 0 and 'nothing to do' in out and not os.path.exists(node['metrics'])


def test_help_lists_maintain(capsys):
    assert command.main(['--help']) == 0
    assert 'maintain' in capsys.readouterr().out
    assert command.main(['maintain', '--help']) == 0
    assert 'UV_LOCK_TIMEOUT' in capsys.readouterr().out


def test_uvs_0666_lock_in_a_read_only_dir_is_left_alone_and_nothing_else_is(node, capsys):
    # the managed tool dir: members' uvx takes its .lock (0666, as uv makes it)
    tools = node['tools']
    lock = os.path.join(tools, '.lock')
    make_file(lock, mode=0o666, data=b'')
    planted = os.path.join(tools, 'evil.lock')
    make_file(planted, mode=0o664, data=b'')  # not uv's mode: repaired like anything else
    node['write'](read_only_dirs=[tools], exclude_locks=['*.lock'])
    code, out, _err = maintain_main(capsys, '--prune', 'off', '--metrics-file', '')
    assert code == 0, out
    assert mode_of(lock) == 0o666
    assert mode_of(planted) == 0o640


def test_the_repair_walks_with_the_automatic_jobs_unless_told(node, capsys, monkeypatch):
    seen = []
    real_run = engine.run

    def recording_run(paths, group, options):
        seen.append(options.jobs)
        return real_run(paths, group, options)

    monkeypatch.setattr(engine, 'run', recording_run)
    assert maintain_main(capsys, '--prune', 'off')[0] == 0
    assert seen and set(seen) == {'auto'}           # no maintenance_jobs in the configuration
    del seen[:]
    node['write'](maintenance_jobs='2')              # the role writes the setting as a string
    assert maintain_main(capsys, '--prune', 'off')[0] == 0
    assert set(seen) == {'2'}
    del seen[:]
    assert maintain_main(capsys, '--prune', 'off', '--jobs', '1')[0] == 0
    assert set(seen) == {'1'}
    for bad in ('many', '-1'):
        node['write'](maintenance_jobs=bad)
        code, _out, err = maintain_main(capsys, '--prune', 'off')
        assert code == 2 and 'jobs %r' % bad in err, err


def test_the_prune_runs_as_the_worker_with_a_members_rights_only(node, tmp_path, capsys):
    """A directory the group cannot write is beyond the prune: it is not root that prunes."""
    junk = os.path.join(node['cache'], 'not-a-bucket')  # prune removes every top-level entry it does not know
    os.mkdir(junk, 0o755)                                # root's, the group may not delete in it
    make_file(os.path.join(junk, 'roots-file'), mode=0o644, gid=0)
    config = nodeconfig.load()
    result = maintain.prune(config, 'normal', 30)  # the prune alone: the repair would open junk to the group
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
