# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""jobs=auto: serial until the walk has seen enough entries, and while the CPUs are busy elsewhere."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import engine
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import parallel as P

from perms_testlib import GID, good_tree, make_dir, make_file

IDS = 12


def tree(base):
    good_tree(base)
    for i in range(IDS):
        d = make_dir(os.path.join(base, 'archive-v0', 'x%02d' % i))
        for k in range(5):
            make_file(os.path.join(d, 'f%d' % k), mode=0o644)


def run(base, **kw):
    result = engine.run(base, str(GID), engine.Options(is_member={4242}, **kw))
    result.pop('duration')
    result.pop('diff')
    return result


def test_small_tree_never_forks(base, forks):
    tree(base)
    assert run(base, repair=False, jobs='auto')['scanned'] < P.AUTO_MIN_ENTRIES
    assert forks[0] == 0


@pytest.mark.parametrize('share, forked', [(1.0, True), (0.3, False)])
def test_auto_forks_only_with_cpu_to_spare(base, forks, monkeypatch, share, forked):
    tree(base)
    serial = run(base, repair=False, jobs=1)
    monkeypatch.setattr(P, 'AUTO_MIN_ENTRIES', 10)
    monkeypatch.setattr(P.CpuShare, 'share', lambda self: share)
    monkeypatch.setattr(P, 'available_cpus', lambda: 2)
    auto = run(base, repair=False, jobs='auto')
    assert (forks[0] > 0) is forked
    assert auto['findings'] == serial['findings'] and auto['scanned'] == serial['scanned']
    repaired = run(base, jobs='auto')
    assert repaired['remaining'] == {} and repaired['fixed'] == serial['findings']


def test_explicit_jobs_ignore_cpu_share(base, forks, monkeypatch):
    tree(base)
    monkeypatch.setattr(P.CpuShare, 'share', lambda self: 0.1)
    run(base, repair=False, jobs=2)
    assert forks[0] > 0


def test_cpu_share_is_measured():
    cpu = P.CpuShare()
    assert cpu.share() is None  # too soon to tell
    cpu.wall -= 1.0
    busy = cpu.share()
    assert busy is not None and 0 <= busy < 0.5  # this process was idle during the second it was told about
    assert P.batch_jobs(2, True, cpu) == 1 and P.batch_jobs(2, False, cpu) == 2 and P.batch_jobs(1, True, cpu) == 1
