# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node command: ``uvfleet audit|check|repair``, defaults from the node's configuration, bin/uvfleet."""

from __future__ import absolute_import, division, print_function

import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.cmd import audit_cmd, main as command
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet import nodeconfig

from perms_testlib import GID, NODE_COMMAND, getfacl, good_tree, install_node_command, make_file, mode_of, setfacl

SCRIPT = NODE_COMMAND


@pytest.fixture
def config(tmp_path, monkeypatch):
    """Write the node configuration as the role does (root, 0644) and point the command at it."""
    path = tmp_path / 'config.json'

    def write(data, mode=0o644):
        path.write_text(json.dumps(data))
        os.chmod(str(path), mode)
        return str(path)

    monkeypatch.setattr(nodeconfig, 'DEFAULT_PATH', str(path))
    return write


def run(capsys, *argv):
    code = command.main(list(argv))
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip().startswith('{') else captured.out), captured.err


def test_audit_check_repair_take_the_group_and_directories_of_the_node(base, config, capsys):
    good_tree(base)
    f = make_file(os.path.join(base, 'f'), mode=0o600)
    make_file(os.path.join(base, 'uv.lock'), mode=0o666)
    make_file(os.path.join(base, 'evil.lock'), mode=0o4770)
    os.symlink(base, os.path.join(base, 'wheels-v5', 'back'))
    config({'group': str(GID), 'managed_dirs': [base], 'exclude_locks': ['*.lock']})
    code, report, _err = run(capsys, 'audit')
    # uv's lock file is left alone; a setuid file named like one is not
    assert code == 0 and report['mode'] == 'audit'
    assert report['findings'].get('group_perms') == 1 and report['findings'].get('setuid_setgid') == 1, report
    code, report, _err = run(capsys, 'check')
    assert report['would_fix'].get('group_perms') == 1 and mode_of(f) == 0o600
    code, report, _err = run(capsys, 'repair')
    assert report['fixed'].get('group_perms') == 1 and mode_of(f) == 0o660
    assert mode_of(os.path.join(base, 'uv.lock')) == 0o666


def test_explicit_paths_and_group_beat_the_configuration(base, tmp_path, config, capsys):
    good_tree(base)
    other = str(tmp_path / 'other')
    os.mkdir(other)
    config({'group': 'no-such-group-uvfleet', 'managed_dirs': [other]})
    code, report, _err = run(capsys, 'audit', '-g', str(GID), base)
    assert code == 0 and report['paths'] == [base]


def test_without_configuration_the_engine_asks_for_group_and_path(config, capsys):
    code, _report, err = run(capsys, 'audit')
    assert code == 2 and 'PATH' in err


@pytest.mark.parametrize('attack', ['group_writable', 'symlink', 'not_json'])
def test_a_configuration_root_cannot_trust_is_refused(base, tmp_path, config, capsys, attack):
    path = config({'group': str(GID), 'managed_dirs': [base]})
    if attack == 'group_writable':
        os.chmod(path, 0o664)
    elif attack == 'symlink':
        real = str(tmp_path / 'real.json')
        os.rename(path, real)
        os.symlink(real, path)
    else:
        with open(path, 'w') as handle:
            handle.write('{"group": ')
    code, _report, err = run(capsys, 'repair')
    assert code == 2 and nodeconfig.DEFAULT_PATH in err


def test_usage(capsys):
    assert command.main([]) == 2
    assert command.main(['--help']) == 0
    assert 'repair' in capsys.readouterr().out
    assert command.main(['no-such-command']) == 2


def _env():
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    return env


def test_bin_uvfleet_from_the_collection_and_as_installed(base, tmp_path, config):
    good_tree(base)
    out = subprocess.check_output([sys.executable, SCRIPT, 'audit', '-g', str(GID), '--compact', base],
                                  env=_env(), cwd=base)
    assert json.loads(out.decode())['findings'] == {}
    # the layout the shared role installs: <prefix>/bin/uvfleet, <prefix>/lib/uvfleet/lib/uvfleet/
    script = install_node_command(str(tmp_path / 'usr-local'))
    out = subprocess.check_output([sys.executable, '-I', script, 'audit', '-g', str(GID), base], env=_env(), cwd=base)
    assert json.loads(out.decode())['scanned'] == 7


def test_bin_uvfleet_never_imports_from_the_current_directory(base, tmp_path):
    # a member plants uvfleet/cmd/main.py in a directory root runs the command from
    planted = tmp_path / 'planted'
    (planted / 'uvfleet' / 'cmd').mkdir(parents=True)
    (planted / 'uvfleet' / '__init__.py').write_text('')
    (planted / 'uvfleet' / 'cmd' / '__init__.py').write_text('')
    (planted / 'uvfleet' / 'cmd' / 'main.py').write_text('raise SystemExit("poisoned")\n')
    prefix = tmp_path / 'usr-local'
    (prefix / 'bin').mkdir(parents=True)
    shutil.copy(SCRIPT, str(prefix / 'bin' / 'uvfleet'))
    proc = subprocess.run([sys.executable, str(prefix / 'bin' / 'uvfleet'), 'audit', '-g', str(GID), base],
                          env=_env(), cwd=str(planted), stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    assert proc.returncode == 2
    assert b'poisoned' not in proc.stderr and b'cannot find its library' in proc.stderr


def test_managed_dirs_of_the_managed_policy_are_checked_read_only(base, tmp_path, config, capsys):
    # the shared role's `managed` tool dir: root's, group r-x; the cache beside it: group rw
    good_tree(base)
    tools = str(tmp_path / 'tools')
    os.mkdir(tools)
    os.chown(tools, 0, GID)
    os.chmod(tools, 0o2750)
    setfacl('-d', '-m', 'u::rwx,g::r-x,m::r-x,o::---', tools)
    tool = make_file(os.path.join(tools, 'tool'), mode=0o750)
    config({'group': str(GID), 'managed_dirs': [base, tools], 'read_only_dirs': [tools]})
    code, report, _err = run(capsys, 'repair', '--fail-on-findings')
    assert code == 0 and report['fixed'] == {} and report['paths'] == [base, tools]
    assert mode_of(tool) == 0o750 and mode_of(tools) == 0o2750
    # a member's group write in the managed dir is a finding there, and repaired away
    os.chmod(tool, 0o770)
    code, report, _err = run(capsys, 'repair')
    assert report['fixed'].get('group_perms') == 1 and mode_of(tool) == 0o750


def test_the_exclusions_stay_out_of_the_read_only_managed_dirs_in_one_report(base, tmp_path, config, capsys):
    # the role's policy (nodeconfig.dir_policy): exclusions in the dirs the group writes only; the
    # managed tool dir is checked whole, as the job and the self-check check it: two runs, one report
    good_tree(base)
    make_file(os.path.join(base, 'scratch.tmp'), mode=0o600)        # excluded in the cache
    tools = str(tmp_path / 'tools')
    os.mkdir(tools)
    os.chown(tools, 0, GID)
    os.chmod(tools, 0o2750)
    setfacl('-d', '-m', 'u::rwx,g::r-x,m::r-x,o::---', tools)
    hidden = make_file(os.path.join(tools, 'scratch.tmp'), mode=0o770)  # group-writable in root's dir
    config({'group': str(GID), 'managed_dirs': [base, tools], 'read_only_dirs': [tools], 'exclude': ['*.tmp']})
    code, report, _err = run(capsys, 'audit', '--compact')
    assert code == 0 and report['paths'] == [base, tools], report
    assert report['findings'] == {'group_perms': 1} and report['excluded'] == 1, report
    assert [sample['path'] for sample in report['samples']] == [hidden], report
    code, report, _err = run(capsys, 'repair', '--fail-on-findings')
    assert code == 0 and report['fixed'] == {'group_perms': 1} and mode_of(hidden) == 0o750, report
    assert mode_of(os.path.join(base, 'scratch.tmp')) == 0o600


def test_one_report_of_two_runs_says_mixed_when_one_root_was_checked_in_full():
    full = {'paths': ['/a'], 'run': 'full', 'runs': [{'path': '/a', 'kind': 'full', 'reason': 'no state'}]}
    incr = {'paths': ['/b'], 'run': 'incremental', 'runs': [{'path': '/b', 'kind': 'incremental', 'reason': ''}]}
    assert audit_cmd.combined([incr, full])['run'] == 'mixed'
    assert audit_cmd.combined([incr, dict(incr)])['run'] == 'incremental'
    assert [r['path'] for r in audit_cmd.combined([full, incr])['runs']] == ['/a', '/b']


def test_the_acl_decision_of_the_role_reaches_audit_and_repair(base, config, capsys):
    # An image build (docs/images.md): the role decided acl off (layers keep no ACLs). The
    # sealing `uvfleet repair` must not set default ACLs the next layer loses, and the
    # audit must not ask for them; an explicit --acl still wins.
    os.chown(base, 0, GID)
    os.chmod(base, 0o2770)
    sub = os.path.join(base, 'python')
    os.mkdir(sub)
    os.chmod(sub, 0o755)
    make_file(os.path.join(sub, 'mod.pyc'), mode=0o644)
    config({'group': str(GID), 'managed_dirs': [base], 'acl': 'off', 'fallback': True, 'target': 'image'})
    code, report, _err = run(capsys, 'repair')
    assert code == 0 and report['fixed'], report
    assert mode_of(sub) == 0o2770 and mode_of(os.path.join(sub, 'mod.pyc')) == 0o660
    for path in (base, sub):
        assert not getfacl(path, default=True), path
    code, report, _err = run(capsys, 'audit', '--fail-on-findings')
    assert code == 0 and not report['findings'], report
    code, report, _err = run(capsys, 'audit', '--acl', 'required')
    assert report['findings'], report
