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

from content_testlib import make_cache, make_wheel_entry, write  # noqa: E402 pylint: disable=wrong-import-position


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
    result = module_runner.run_module('cache_verify', tmp_path, path=cache, fail_on_findings=True)
    assert result['failed'] is True and '1 damaged cache entries remain' in result['msg']
    assert os.path.join(bad, 'demo', 'core.py') in result['msg']
    result = module_runner.run_module('cache_verify', tmp_path, path=cache, repair=True, _ansible_check_mode=True)
    assert result['changed'] is True and result['mode'] == 'check' and os.path.isdir(bad)
    result = module_runner.run_module('cache_verify', tmp_path, path=cache, repair=True, fail_on_findings=True)
    assert result['changed'] is True and not result.get('failed') and not os.path.exists(bad)
    assert [q['entry'] for q in result['quarantined']] == ['Bad1']
    result = module_runner.run_module('cache_verify', tmp_path, path=cache, repair=True, fail_on_findings=True)
    assert result['changed'] is False and result['findings'] == {}


def test_refusals(cache, tmp_path):
    result = module_runner.run_module('cache_verify', tmp_path, path=cache, repair=True, quarantine_dir=os.path.join(cache, 'q'))
    assert result['failed'] is True and 'inside the cache' in result['msg']
    result = module_runner.run_module('cache_verify', tmp_path, path=cache, jobs=0)
    assert result['failed'] is True and 'jobs' in result['msg']
    result = module_runner.run_module('cache_verify', tmp_path, path=os.path.join(cache, 'nope'))
    assert result['failed'] is True and 'cannot open the cache' in result['msg']
