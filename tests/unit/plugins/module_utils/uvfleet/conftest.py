# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the tests of the node library (plugins/module_utils/uvfleet/).

Most of them build trees as root (owners, groups, ACLs, mounts, real users): those
need root and are skipped without it, and only those.  A test needs root when it builds
its tree with ``perms_testlib.temp_base`` (the ``base`` fixture and what builds on it)
or uses real accounts (the doctor's and the maintenance job's nodes); every other one
(the policy, the ACL codec, the escaping, the textfile format, the RECORD parser, ...)
runs as any user.
"""

from __future__ import absolute_import, division, print_function

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import perms_testlib  # noqa: E402 pylint: disable=wrong-import-position


@pytest.fixture
def base():
    """A fresh temporary directory (mode 0755 root:root) on a file system with POSIX ACLs (needs root)."""
    path = perms_testlib.temp_base()
    yield path
    perms_testlib.cleanup(path)


@pytest.fixture
def forks(monkeypatch):
    """Count the engine's forks, so that a test knows the parallel walk really ran."""
    # Imported here: the engine is importable only once conftest set up sys.path.
    from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import engine
    count = [0]
    real = os.fork

    def fork():
        count[0] += 1
        return real()
    monkeypatch.setattr(engine, '_fork', fork)
    return count


@pytest.fixture
def outside(base):
    """A root-owned directory outside the tree: a secret (0600, with an xattr), a tool (0755), a subdirectory."""
    path = tempfile.mkdtemp(prefix='perms-outside-', dir=os.path.dirname(base))
    os.chmod(path, 0o700)
    perms_testlib.make_file(os.path.join(path, 'secret'), mode=0o600, gid=0)
    perms_testlib.make_file(os.path.join(path, 'tool'), mode=0o755, gid=0)
    os.mkdir(os.path.join(path, 'sub'), 0o755)
    perms_testlib.make_file(os.path.join(path, 'sub', 'deep'), mode=0o600, gid=0)
    os.setxattr(os.path.join(path, 'secret'), 'user.uvfleet', b'keep')
    yield path
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if os.path.ismount(full):
            subprocess.call(['umount', '-l', full])
    shutil.rmtree(path, ignore_errors=True)
