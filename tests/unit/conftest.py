# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Session set-up for every unit test.

The groups the tests use must exist (the engine refuses unknown ones), and every temporary
path a test makes through :mod:`tempfile` lies in one directory per test process, removed
when the run ends.  ``ansible-test units`` runs each test in a forked child that exits
without tearing down module-scoped fixtures: without this, each such run left a tree of
300,000 directories (1.3 GB) behind in /tmp, and a CI machine ran out of disk.
"""

from __future__ import absolute_import, division, print_function

import grp
import os
import pwd
import shutil
import subprocess
import tempfile
import time

import pytest

#: GIDs the tests use as the shared group and as some other group, with the names given to them when missing
TEST_GROUPS = ((4343, 'uvfleet-t4343'), (4344, 'uvfleet-t4344'))

#: this process's temporary directory (pytest_configure makes it, pytest_unconfigure removes it)
SESSION_TMP = None


def pytest_configure(config):
    """Point tempfile at a new directory of this process (0755: the tests' own users traverse it)."""
    global SESSION_TMP
    SESSION_TMP = tempfile.mkdtemp(prefix='uvfleet-units-')
    os.chmod(SESSION_TMP, 0o755)
    with open(os.path.join(SESSION_TMP, '.pid'), 'w') as owner:  # tests/unit/leaves-nothing.sh: whose it is
        owner.write('%d\n' % os.getpid())
    tempfile.tempdir = SESSION_TMP
    # the state of incremental audits (perms/incremental.py) of the module, the node command and the
    # maintenance job: in this process's directory, never in /var/lib/uvfleet of the machine
    os.environ['UVFLEET_PERMS_STATE_DIR'] = os.path.join(SESSION_TMP, 'perms-state')


def _mounts_below(path):
    """Mount points at or below path, deepest first (from /proc/self/mountinfo)."""
    prefix = path.rstrip('/') + '/'
    try:
        with open('/proc/self/mountinfo') as info:
            points = [line.split()[4].encode().decode('unicode_escape') for line in info]
    except OSError:
        return []
    return sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True)


def pytest_unconfigure(config):
    """Remove SESSION_TMP and whatever the tests left in it (mounts first, lazily).

    Forked children of ansible-test never get here (they leave with os._exit); their
    process's own unconfigure removes what they made.
    """
    if SESSION_TMP is None or tempfile.tempdir != SESSION_TMP:
        return
    tempfile.tempdir = None
    for point in _mounts_below(SESSION_TMP):
        subprocess.call(['umount', '-l', point], stderr=subprocess.DEVNULL)
    shutil.rmtree(SESSION_TMP, ignore_errors=True)


def ensure_group(gid, name):
    """Create a system group with this GID unless one exists (left in place: parallel test runs share it)."""
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        pass
    subprocess.call(['groupadd', '-g', str(gid), name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        pytest.exit('cannot create the test group %s with GID %d (groupadd failed)' % (name, gid), returncode=2)
    return None


@pytest.fixture(scope='session', autouse=True)
def test_groups():
    """The test groups, created once per host when missing (needs root; skipped otherwise)."""
    if os.geteuid() != 0:
        return {}
    groups = dict((gid, ensure_group(gid, name)) for gid, name in TEST_GROUPS)
    ensure_worker(*TEST_WORKER)
    return groups


#: the worker account of the tests' node configurations (the shared role's uv_shared_worker_user):
#: name, uid, primary GID (the tests' shared group)
TEST_WORKER = ('uvfleet-tworker', 4646, 4343)


def ensure_worker(name, uid, gid):
    """Create the worker account as the role does (system, only group GID, no login) unless it exists."""
    try:
        pwd.getpwnam(name)
        return
    except KeyError:
        pass
    for _attempt in range(100):  # another test process may hold the lock of /etc/passwd
        subprocess.call(['useradd', '--system', '--uid', str(uid), '--gid', str(gid), '--no-create-home',
                         '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            pwd.getpwnam(name)
            return
        except KeyError:
            time.sleep(0.05)
    pytest.exit('cannot create the test worker account %s (useradd failed)' % name, returncode=2)
