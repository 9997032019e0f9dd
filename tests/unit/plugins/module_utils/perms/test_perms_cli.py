# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The command line: options, JSON report, exit codes, bin/uv-cache-perms from the collection and from a copy."""

from __future__ import absolute_import, division, print_function

import json
import os
import shutil
import subprocess
import sys

from ansible_collections.uvfleet.uv.plugins.module_utils.perms import cli

from perms_testlib import GID, good_tree, make_file, mode_of

COLLECTION = os.path.abspath(os.path.join(os.path.dirname(cli.__file__), '..', '..', '..'))
SCRIPT = os.path.join(COLLECTION, 'bin', 'uv-cache-perms')


def call(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.strip() else None)


def test_audit_is_the_default(base, capsys):
    good_tree(base)
    f = make_file(os.path.join(base, 'f'), mode=0o600)
    code, report = call(capsys, '-g', str(GID), base)
    assert code == 0
    assert report['mode'] == 'audit' and report['findings'] == {'group_perms': 1}
    assert 'diff' not in report
    assert mode_of(f) == 0o600
    code, report = call(capsys, '-g', str(GID), '--fail-on-findings', base)
    assert code == 1 and report['failed'] is True
    code, report = call(capsys, '-g', str(GID), '--check', '--diff', base)
    assert code == 0 and report['would_fix'] == {'group_perms': 1} and report['changed'] is True
    assert report['diff']['after'] == '%s/f: mode 0660 group %d\n' % (base, GID)
    assert mode_of(f) == 0o600
    code, report = call(capsys, '-g', str(GID), '--repair', '--fail-on-findings', '--compact', base)
    assert code == 0 and report['fixed'] == {'group_perms': 1}
    assert mode_of(f) == 0o660


def test_options_reach_the_engine(base, capsys):
    good_tree(base)
    make_file(os.path.join(base, 'f'), mode=0o664)
    code, report = call(capsys, '-g', str(GID), '--others', 'read', '--acl', 'off', '--exclude', 'nothing*',
                        '--max-samples', '0', base)
    assert code == 0 and report['findings'] == {} and report['samples'] == []
    code, report = call(capsys, '-g', str(GID), '--group-access', 'read', base)
    assert report['findings']['group_perms'] >= 3


def test_usage_and_refusals(base, capsys):
    assert cli.main([]) == 2
    assert cli.main(['-g', str(GID), '--repair', '--check', base]) == 2
    code, report = call(capsys, '-g', str(GID), '/')
    assert code == 2 and report['failed'] is True and 'system directory' in report['msg']
    code, report = call(capsys, '-g', 'no-such-group-uvfleet', base)
    assert code == 2 and 'does not exist' in report['msg']


def test_script_in_collection_and_copied(base, tmp_path):
    good_tree(base)
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    out = subprocess.check_output([sys.executable, SCRIPT, '-g', str(GID), '--compact', base], env=env, cwd=base)
    assert json.loads(out.decode())['findings'] == {}
    assert os.access(SCRIPT, os.X_OK)
    # a copy on a node: the script with perms/ beside it
    node = tmp_path / 'node'
    node.mkdir()
    shutil.copy(SCRIPT, str(node / 'uv-cache-perms'))
    shutil.copytree(os.path.dirname(cli.__file__), str(node / 'perms'))
    out = subprocess.check_output([sys.executable, str(node / 'uv-cache-perms'), '-g', str(GID), base], env=env)
    assert json.loads(out.decode())['scanned'] == 7
    # or anywhere, with UV_CACHE_PERMS_LIB
    lone = tmp_path / 'lone'
    lone.mkdir()
    shutil.copy(SCRIPT, str(lone / 'uv-cache-perms'))
    env['UV_CACHE_PERMS_LIB'] = str(node)
    proc = subprocess.run([sys.executable, str(lone / 'uv-cache-perms'), '-g', str(GID), '/etc'], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    assert proc.returncode == 2 and b'system directory' in proc.stderr
