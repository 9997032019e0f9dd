# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Memory of the parallel walk: the parent's task list is bounded however wide a directory is.

A member can plant one directory with 300,000 subdirectories with long names.  The
serial walk holds their names (one directory listed at a time); the parallel walk
must not hold a task per subdirectory on top of that.  Peak RSS is measured in a
child process (``resource.getrusage``), as a bound relative to the serial run of the
same tree: it fails when every subdirectory becomes a pending task (about twice the
serial peak before the batches of parallel.py).
"""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import parallel as P

from perms_testlib import GID, cleanup, temp_base

WIDE = 300000
NAME = 'd' * 200 + '%06d'

CHILD = r'''
import json, resource, sys
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import engine
jobs = sys.argv[2] if sys.argv[2] == 'auto' else int(sys.argv[2])
result = engine.run(sys.argv[1], sys.argv[3], engine.Options(repair=False, is_member=set(), jobs=jobs, max_samples=0))
print(json.dumps({'rss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, 'scanned': result['scanned']}))
'''


@pytest.fixture
def wide():
    """One directory with WIDE empty subdirectories with 206-character names (setgid, group GID).

    Per test (one test uses it): torn down by the process that ran the test, also in
    ansible-test's forked children, not left to the end of the run (1.3 GB).
    """
    base = temp_base()
    top = os.path.join(base, 'archive-v0')
    os.mkdir(top)
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(WIDE):
            os.mkdir(NAME % i, 0o2770, dir_fd=fd)
    finally:
        os.close(fd)
    yield base
    cleanup(base)


def peak(base, jobs):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, '-c', CHILD, base, str(jobs), str(GID)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    out = json.loads(proc.stdout.decode().splitlines()[-1])
    assert out['scanned'] == WIDE + 2
    return out['rss_kb']


def test_parallel_peak_rss_stays_near_serial(wide):
    serial = peak(wide, 1)
    # the 300k names alone are more than 60 MB: the serial walk really holds them (the test can fail)
    assert serial > 60 * 1024
    for jobs in (2, 'auto'):
        parallel = peak(wide, jobs)
        # pending tasks are bounded (parallel.TASK_BATCH): a few MB over the serial peak, not the 2x of
        # a task (tuple, name, relative path) for every one of the 300k subdirectories
        assert parallel < serial * 1.15 + 8 * 1024, (jobs, parallel, serial)


def test_task_batch_bounds_pending_tasks():
    assert 0 < P.TASK_BATCH <= 16384
