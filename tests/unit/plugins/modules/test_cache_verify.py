# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cache_verify module, run the way Ansible runs it (a child process reading its arguments)."""

from __future__ import absolute_import, division, print_function

import os
import shutil
import sys
import tempfile

import pytest

pytest.importorskip('ansible.module_utils.basic')

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import module_runner  # noqa: E402 pylint: disable=wrong-import-position

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='runs as root on temporary trees')

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'module_utils', 'uvfleet'))

from content_testlib import make_cache, make_wheel_entry, record_hash, write  # noqa: E402 pylint: disable=wrong-import-position


@pytest.fixture
def cache():
    base = tempfile.mkdtemp(prefix='verify-module-')
    path = make_cache(base)
    top = make_wheel_entry(path, entry='Bad1')
    write(os.path.join(top, 'demo', 'core.py'), b'')
    make_wheel_entry(path, entry='Good1')
    yield path
    shutil.rmtree(base)


def test_audit_check_repair_idempotent(cache, tmp_path):
    bad = os.path.join(cache, 'archive-v0', 'Bad1')
    rec = os.path.join(os.path.dirname(cache), 'record')
    result = module_runner.run_module('cache_verify', tmp_path, path=cache, fail_on_findings=True, record_dir=rec)
    assert result['failed'] is True and '1 damaged cache entries remain' in result['msg']
    assert os.path.join(bad, 'demo', 'core.py') in result['msg']
    result = module_runner.run_module('cache_verify', tmp_path, path=cache, repair=True, _ansible_check_mode=True,
                                      record_dir=rec)
    assert result['changed'] is True and result['mode'] == 'check' and os.path.isdir(bad)
    result = module_runner.run_module('cache_verify', tmp_path, path=cache, repair=True, fail_on_findings=True,
                                      record_dir=rec)
    assert result['changed'] is True and not result.get('failed') and not os.path.exists(bad)
    assert [q['entry'] for q in result['quarantined']] == ['Bad1']
    result = module_runner.run_module('cache_verify', tmp_path, path=cache, repair=True, fail_on_findings=True,
                                      record_dir=rec)
    assert result['changed'] is False and result['findings'] == {}
    assert result['record']['state'] == 'loaded' and result['record']['entries']['known'] == 1


def test_record_limits_and_what_they_skipped_are_options_and_return_values(cache, tmp_path):
    rec = os.path.join(os.path.dirname(cache), 'record')
    good = os.path.join(cache, 'archive-v0', 'Good1')
    # first sight: recorded (a change of root's state: changed); a second run: nothing new
    result = module_runner.run_module('cache_verify', tmp_path, path=cache, record_dir=rec)
    assert result['changed'] is True and result['record']['entries']['first_seen'] == 1
    assert result['complete'] is True and result['limits']['time_budget'] == 21600
    # no key Ansible reads as the task's own state (a truthy "skipped" made the task show as skipped)
    assert not set(result) & {'skipped', 'rc', 'results', 'exception'}
    assert module_runner.run_module('cache_verify', tmp_path, path=cache, record_dir=rec)['changed'] is False
    # a module and its RECORD row rewritten together: found against the record only
    write(os.path.join(good, 'demo', 'core.py'), b'evil = 1\n')
    with open(os.path.join(good, 'demo-1.0.dist-info', 'RECORD')) as handle:
        rows = [r if not r.startswith('demo/core.py,') else 'demo/core.py,%s,9' % record_hash(b'evil = 1\n')
                for r in handle.read().splitlines()]
    write(os.path.join(good, 'demo-1.0.dist-info', 'RECORD'), ('\n'.join(rows) + '\n').encode())
    result = module_runner.run_module('cache_verify', tmp_path, path=cache, record=False)
    assert 'Good1' not in result['remaining']
    result = module_runner.run_module('cache_verify', tmp_path, path=cache, record_dir=rec, max_file_size=10)
    assert 'Good1' in result['remaining'] and result['findings']['rewritten'] == 2
    assert result['complete'] is False and result['unchecked']['files']['file_size'] >= 1
    result = module_runner.run_module('cache_verify', tmp_path, path=cache, record_dir=rec, time_budget=-1)
    assert result['failed'] is True and 'no bound' in result['msg']


def test_refusals(cache, tmp_path):
    rec = os.path.join(os.path.dirname(cache), 'record')
    result = module_runner.run_module('cache_verify', tmp_path, path=cache, repair=True, quarantine_dir=os.path.join(cache, 'q'),
                                      record_dir=rec)
    assert result['failed'] is True and 'inside the cache' in result['msg']
    result = module_runner.run_module('cache_verify', tmp_path, path=cache, jobs=0, record=False)
    assert result['failed'] is True and 'jobs' in result['msg']
    result = module_runner.run_module('cache_verify', tmp_path, path=os.path.join(cache, 'nope'), record=False)
    assert result['failed'] is True and 'cannot open the cache' in result['msg']
    result = module_runner.run_module('cache_verify', tmp_path, path=cache, record_dir=os.path.join(cache, 'state'))
    assert result['failed'] is True and 'inside' in result['msg']
    result = module_runner.run_module('cache_verify', tmp_path, path=os.path.join(cache, 'nope'), record=False)
    assert result['failed'] is True and 'cannot open the cache' in result['msg']
