# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Synthetic uv caches for the content-check tests: unpacked wheels and cached environments."""

from __future__ import absolute_import, division, print_function

import base64
import hashlib
import os
import signal

import pytest


def record_hash(data):
    return 'sha256=' + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as handle:
        handle.write(data)
    return path


DEFAULT_FILES = {
    'demo/__init__.py': b'VALUE = "genuine"\n',
    'demo/core.py': b'def f():\n    return 42\n' * 50,
    'demo-1.0.dist-info/METADATA': b'Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n',
    'demo-1.0.dist-info/WHEEL': b'Wheel-Version: 1.0\n',
}


def make_wheel_entry(cache, entry='AAAAentry1', files=None, hashes=True, record=True, extra_rows=()):
    """``<cache>/archive-v0/<entry>``: an unpacked wheel with a RECORD of sha256 and sizes."""
    files = dict(DEFAULT_FILES if files is None else files)
    top = os.path.join(cache, 'archive-v0', entry)
    os.makedirs(top, exist_ok=True)
    rows = []
    for rel, data in sorted(files.items()):
        write(os.path.join(top, rel), data)
        rows.append('%s,%s,%d' % (rel, record_hash(data) if hashes else '', len(data)) if hashes
                    else '%s,,' % rel)
    dist_info = [p for p in files if '.dist-info/' in p][0].split('/')[0]
    rows.append('%s/RECORD,,' % dist_info)
    rows.extend(extra_rows)
    if record:
        write(os.path.join(top, dist_info, 'RECORD'), ('\n'.join(rows) + '\n').encode())
    return top


def make_env_entry(cache, entry='BBBBenv', py='python3.11'):
    """A cached environment (what ``uvx`` leaves in archive-v0): a venv with one package and a console script."""
    top = os.path.join(cache, 'archive-v0', entry)
    site = os.path.join(top, 'lib', py, 'site-packages')
    script = b'#!/usr/bin/python3\nimport tool\n'
    files = {
        'tool/__init__.py': b'print("tool")\n',
        'tool-2.0.dist-info/METADATA': b'Name: tool\n',
        'tool-2.0.dist-info/INSTALLER': b'uv',
    }
    rows = ['../../../bin/tool,%s,%d' % (record_hash(script), len(script))]
    for rel, data in sorted(files.items()):
        write(os.path.join(site, rel), data)
        rows.append('%s,%s,%d' % (rel, record_hash(data), len(data)))
    rows.append('tool-2.0.dist-info/RECORD,,')
    write(os.path.join(site, 'tool-2.0.dist-info', 'RECORD'), ('\n'.join(rows) + '\n').encode())
    write(os.path.join(top, 'bin', 'tool'), script)
    for name in ('pyvenv.cfg', 'CACHEDIR.TAG', '.gitignore', 'bin/activate', 'bin/activate.fish',
                 'bin/activate_this.py', 'bin/pydoc.bat', 'bin/deactivate.bat',
                 'lib/%s/site-packages/tool/__pycache__/__init__.cpython-311.pyc' % py):
        write(os.path.join(top, name), b'scaffold\n')
    os.symlink('/usr/bin/python3', os.path.join(top, 'bin', 'python'))
    os.symlink('python', os.path.join(top, 'bin', 'python3'))
    os.symlink('python', os.path.join(top, 'bin', py))
    os.symlink('lib', os.path.join(top, 'lib64'))
    return top


def make_cache(base):
    """An empty cache layout with its pointers bucket."""
    cache = os.path.join(base, 'cache')
    os.makedirs(os.path.join(cache, 'archive-v0'))
    os.makedirs(os.path.join(cache, 'wheels-v8', 'pypi', 'demo'))
    write(os.path.join(cache, '.lock'), b'')
    return cache


# -- a shared cache and a member who works in it -------------------------------

MEMBER_UID = 4242   # perms_testlib's member
GID = 4343          # perms_testlib's shared group


def share(cache):
    """Make a cache look like the shared role's: root:GID, directories 2770, files 0660 (members write everything)."""
    for dirpath, dirs, files in os.walk(cache):
        os.chown(dirpath, 0, GID)
        os.chmod(dirpath, 0o2770)
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chown(path, 0, GID)
                os.chmod(path, 0o660)
        for name in dirs:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                os.lchown(path, 0, GID)
    return cache


def as_member(func, *args):
    """Run func(*args) in a forked child as a member (uid MEMBER_UID, only group GID): a real setuid process.

    Returns what func returned (anything repr/eval-able), or raises AssertionError with
    the child's error: the attack must really have been possible for a member.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_end)
            os.setgroups([GID])
            os.setgid(GID)
            os.setuid(MEMBER_UID)
            os.umask(0o007)
            out = repr(func(*args)).encode()
            code = 0
        except BaseException as exc:  # noqa: B902 - reported to the parent
            out = ('%s: %s' % (type(exc).__name__, exc)).encode()
        finally:
            try:
                os.write(write_end, out)
            finally:
                os._exit(code)  # pylint: disable=protected-access
    os.close(write_end)
    chunks = []
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    status = os.waitpid(pid, 0)[1]
    text = b''.join(chunks).decode()
    if status != 0:
        raise AssertionError('the member could not do it: %s' % text)
    return text


def rewrite_consistently(top, rel, data, dist_info='demo-1.0.dist-info'):
    """What a hostile member does: rewrite a file of an unpacked wheel AND its RECORD row, so that they match."""
    path = os.path.join(top, rel)
    with open(path, 'wb') as handle:
        handle.write(data)
    record = os.path.join(top, dist_info, 'RECORD')
    with open(record) as handle:
        rows = handle.read().splitlines()
    rows = ['%s,%s,%d' % (rel, record_hash(data), len(data)) if row.split(',')[0] == rel else row for row in rows]
    with open(record, 'w') as handle:
        handle.write('\n'.join(rows) + '\n')
    return path


# -- fixtures of the content-check tests (imported by the test modules) -----------------------

@pytest.fixture(params=[(1, 'process'), (2, 'process'), (2, 'thread')], ids=['serial', 'jobs2', 'threads2'])
def jobs(request):
    """The check's workers: serial, two forked processes, two threads."""
    return request.param


@pytest.fixture
def cache(base):
    """An empty cache layout in the test's temporary directory."""
    return make_cache(base)


@pytest.fixture
def alarm():
    """Fail instead of hanging when the check blocks (a fifo opened for reading) or hashes without a bound."""
    def boom(*_args):
        raise AssertionError('the check blocked, or is still hashing: nothing bounded it')
    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)
