# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the attacks of issue 7 are planted, and how a run over them is made and read.

Every attack is planted in the part of the tree the run's own process walks and in the
subtrees a parallel run hands to its forked workers (``archive-v0/w*``, five of them so
that the splitter hands them out), and every test runs serially and with jobs=2.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import engine

from perms_testlib import GID, MEMBER_UID, good_tree, make_dir


MEMBERS = {MEMBER_UID}
JOBS = pytest.mark.parametrize('jobs', [1, 2])
WORKER_SUBTREES = 5


def run(root, jobs, **kwargs):
    kwargs.setdefault('is_member', MEMBERS)
    kwargs.setdefault('max_samples', 1000)
    return engine.run(root, GID, engine.Options(jobs=jobs, **kwargs))


def places(base):
    """The directories an attack is planted in: one the parent walks, five the workers walk."""
    good_tree(base)
    out = [make_dir(os.path.join(base, 'top'))]
    for i in range(WORKER_SUBTREES):
        out.append(make_dir(os.path.join(base, 'archive-v0', 'w%d' % i)))
    for d in out[1:]:
        make_dir(os.path.join(d, 'pkg'))
    return out


def forked(forks, jobs):
    return forks[0] >= 1 if jobs > 1 else forks[0] == 0


def findings_of_a_child_run(base, jobs, **kwargs):
    """engine.run in a child process with a timeout: a run that hangs (an automount triggered) fails the test."""
    code = ('import json, sys; sys.path[:0] = %r; from perms_testlib import MEMBER_UID;'
            'from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import engine;'
            'print(json.dumps(engine.run(%r, %d, engine.Options(jobs=%d, is_member={MEMBER_UID}, **%r))["findings"]))'
            % (sys.path, base, GID, jobs, kwargs))
    proc = subprocess.run([sys.executable, '-c', code], stdout=subprocess.PIPE, timeout=60, check=True)
    return json.loads(proc.stdout.decode())


def samples_of(result, kind):
    return dict((s['path'], s) for s in result['samples'] if s['kind'] == kind)
