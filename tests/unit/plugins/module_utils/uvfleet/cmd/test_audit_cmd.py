# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine's command line: options, JSON report, exit codes (bin/uvfleet: test_main.py)."""

from __future__ import absolute_import, division, print_function

import json
import os

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.cmd import audit_cmd as cli

from perms_testlib import GID, good_tree, make_file, mode_of


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


def test_check_file_acls_is_still_accepted_and_changes_nothing(base, capsys):
    """--check-file-acls of 1.0.0: every file's access ACL is read anyway; scripts that pass it keep working."""
    good_tree(base)
    make_file(os.path.join(base, 'f'), mode=0o600)
    _code, plain = call(capsys, '-g', str(GID), base)
    code, report = call(capsys, '-g', str(GID), '--check-file-acls', base)
    for result in (plain, report):
        result.pop('duration')
    assert code == 0 and report == plain and report['findings'] == {'group_perms': 1}
