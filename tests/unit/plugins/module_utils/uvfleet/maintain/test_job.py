# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The maintenance job (maintain/job.py, report.py, through ``uvfleet maintain``): repair, prune, the textfile, the exit status.

The cache is made by the real uv of requirements-dev.txt (the version the
install role pins) from a wheel built here, so prune decides with uv's own
rules what is referenced.
"""

from __future__ import absolute_import, division, print_function

import os
import shutil
import subprocess
import sys
import time

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.cmd import main as command
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.maintain import job
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import engine

from maintain_testlib import UV, uv, series, archive_entries, maintain_main
from metrics_testlib import samples, value
from perms_testlib import GID, make_dir, make_file, mode_of

pytestmark = pytest.mark.skipif(UV is None, reason='uv (requirements-dev.txt) is not on PATH')


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
    du = subprocess.run(['du', '-s', '-B1', cache], stdout=subprocess.PIPE, check=True).stdout.split()[0]
    dirs = sum(os.lstat(t).st_blocks * 512 for t, _d, _n in os.walk(cache))
    # the files' blocks as du counts them (hardlinks once), the directories' own blocks aside
    assert value(m, 'uvfleet_cache_size_bytes') == int(du) - dirs
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


def test_a_members_sparse_file_counts_what_it_occupies_not_its_apparent_size(tmp_path):
    cache = tmp_path / 'cache'
    (cache / 'archive-v0' / 'x').mkdir(parents=True)
    (cache / 'archive-v0' / 'x' / 'mod.py').write_bytes(b'print(1)\n' * 1000)
    with open(str(cache / 'archive-v0' / 'x' / 'huge.bin'), 'wb') as f:
        f.truncate(8 << 40)  # 8 TiB that occupy no block
    os.link(str(cache / 'archive-v0' / 'x' / 'mod.py'), str(cache / 'archive-v0' / 'x' / 'link.py'))
    size, entries = job.measure_cache(str(cache))
    assert size == os.lstat(str(cache / 'archive-v0' / 'x' / 'mod.py')).st_blocks * 512 < 1 << 20
    assert entries == 5


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


def test_incremental_after_a_full_run_a_full_run_on_schedule_or_asked_for(node, capsys):
    """The job's repair is incremental after a clean run; full again after maintenance_full_every days, or --full."""
    cache = node['cache']
    time.sleep(2.1)  # the tree is older than the first watermark by more than the margin

    def run(*argv):
        code, out, err = maintain_main(capsys, '--prune', 'off', *argv)
        assert code == 0, (out, err)
        m = samples(node['metrics'])
        return (value(m, 'uvfleet_perms_repair_incremental', dir=cache),
                value(m, 'uvfleet_perms_entries_checked_in_full', dir=cache),
                value(m, 'uvfleet_perms_entries_scanned', dir=cache), out)

    incr, checked, scanned, out = run()
    assert incr == 0 and checked == scanned and ' full ' in out
    incr, checked, scanned, out = run()
    assert incr == 1 and checked < scanned and ' incremental ' in out, out
    assert run('--full')[0] == 0
    node['write'](maintenance_full_every=0)      # every run full
    assert run()[0] == 0
    node['write'](maintenance_full_every=7.0)
    assert run()[0] == 1
