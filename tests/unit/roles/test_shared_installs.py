# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/shared/files/shared-pythons.py and shared-tools.py, run as the role runs them (as root), with real uv.

The shared dirs are collaborative (group rwx, a member's files in them) or managed;
a member (uid MEMBER_UID) planted an interpreter: a script that notes the uid it runs
as, then runs the system's Python. uv runs every interpreter it finds there. The
tools come from a wheel built here (find-links, no index, offline).
"""

from __future__ import absolute_import, division, print_function

import json
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, 'plugins', 'module_utils', 'uvfleet'))

from perms_testlib import GID, MEMBER_UID, cleanup, make_dir, make_file, make_wheel, root_only_base, setfacl  # noqa: E402 pylint: disable=wrong-import-position

FILES = os.path.join(HERE, os.pardir, os.pardir, os.pardir, 'roles', 'shared', 'files')
LIB = os.path.join(HERE, os.pardir, os.pardir, os.pardir, 'plugins', 'module_utils')
UV = shutil.which('uv')
WORKER = ('uvfleet-tworker', 4646)  # tests/unit/conftest.py makes it: the role's uv_shared_worker_user
SYSTEM_PYTHON = '/usr/bin/python3'


def _version():
    try:
        out = subprocess.run([SYSTEM_PYTHON, '-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'],
                             stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return ['0', '0', '0']
    return out[0].split('.')


VERSION = _version()
MINOR = '.'.join(VERSION[:2])
KEY = 'cpython-%s-linux-x86_64-gnu' % '.'.join(VERSION)

pytestmark = [pytest.mark.skipif(UV is None, reason='uv (requirements-dev.txt) is not on PATH'),
              pytest.mark.skipif(os.geteuid() != 0, reason='runs the role\'s scripts as root'),
              pytest.mark.skipif(not os.access(SYSTEM_PYTHON, os.X_OK), reason='no %s to plant' % SYSTEM_PYTHON)]


@pytest.fixture
def node():
    """Shared Python, bin and tool dirs (collaborative: 2770, default ACL), the shared cache, a uv wrapper."""
    base = root_only_base()  # root runs the managed Pythons: no sticky /tmp on the way (rootexec.py)
    d = dict((name, make_dir(os.path.join(base, name))) for name in ('python', 'bin', 'tools', 'cache'))
    d['base'] = base
    for name, mode in (('uvbin', 0o755), ('wheels', 0o755), ('marks', 0o1777), ('state', 0o700)):
        d[name] = os.path.join(base, name)
        os.mkdir(d[name])
        os.chmod(d[name], mode)
    shutil.copy(UV, os.path.join(d['uvbin'], 'uv-real'))
    os.chmod(os.path.join(d['uvbin'], 'uv-real'), 0o755)
    os.chmod(make_wheel(d['wheels']), 0o644)  # the worker reads it, whatever the umask
    d['uv'] = os.path.join(d['uvbin'], 'uv')
    with open(d['uv'], 'w') as wrapper:  # what the role's uv wrapper does, with a local index
        wrapper.write('#!/bin/sh\nexport UV_PYTHON_INSTALL_DIR=%(python)s UV_PYTHON_BIN_DIR=%(bin)s UV_TOOL_DIR=%(tools)s '
                      'UV_TOOL_BIN_DIR=%(bin)s UV_CACHE_DIR=%(cache)s UV_NO_CONFIG=1 UV_NO_INDEX=1 UV_FIND_LINKS=%(wheels)s '
                      'UV_LINK_MODE=copy UV_OFFLINE=1\nexec %(uvbin)s/uv-real "$@"\n' % d)
    os.chmod(d['uv'], 0o755)
    yield d
    cleanup(base)


def plant_interpreter(node, uid=MEMBER_UID):
    """A member's 'Python' in the shared Python dir: it notes who runs it, then runs the system's (under its own name)."""
    bindir = os.path.join(node['python'], KEY, 'bin')
    os.makedirs(bindir)
    for path in (os.path.join(node['python'], KEY), bindir):
        os.chown(path, uid, GID)
        os.chmod(path, 0o2770)
    exe = os.path.join(bindir, 'python' + MINOR)
    make_file(exe, mode=0o775, uid=uid,
              data=('#!/bin/bash\nid -u >> %s/ran\nexec -a "$0" %s "$@"\n' % (node['marks'], SYSTEM_PYTHON)).encode())
    os.symlink(os.path.basename(exe), os.path.join(bindir, 'python3'))
    return exe


def ran_as(node):
    """The uids the planted interpreter ran as."""
    try:
        with open(os.path.join(node['marks'], 'ran')) as f:
            return set(f.read().split())
    except FileNotFoundError:
        return set()


def run(script, node, **conf):
    """Run a role script as the role does (python3, root); its JSON answer and exit status."""
    base = {'uv': node['uv'], 'check': False, 'umask': '0007', 'managed': False, 'fresh': False,
            'worker': WORKER[0], 'group': str(GID), 'lib': LIB}
    done = subprocess.run([sys.executable, os.path.join(FILES, script), json.dumps(dict(base, **conf))],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120,
                          check=False)
    assert done.stdout, done.stderr
    return json.loads(done.stdout), done.returncode


def pythons(node, **conf):
    defaults = {'dir': node['python'], 'requests': [MINOR], 'record': os.path.join(node['state'], 'record.json'),
                'prune': False}
    return run('shared-pythons.py', node, **dict(defaults, **conf))


def tools(node, entries, **conf):
    defaults = {'tool_dir': node['tools'], 'tools': entries, 'python_dir': node['python'], 'python_managed': False}
    return run('shared-tools.py', node, **dict(defaults, **conf))


def test_collaborative_pythons_are_looked_at_as_the_worker_never_as_root(node):
    plant_interpreter(node)
    result, code = pythons(node)
    assert code == 0, result
    assert result['user'] == WORKER[0] and result['installed'] == [], result
    assert result['kept'] == {MINOR: KEY}
    assert ran_as(node) == {str(WORKER[1])}  # uv ran her interpreter, as the worker: never as root
    with open(os.path.join(node['state'], 'record.json')) as f:
        assert json.load(f) == [KEY]          # root's own file: root writes it


def test_without_the_worker_account_nothing_runs(node):
    plant_interpreter(node)
    result, code = pythons(node, worker='uvfleet-no-such-user')
    assert code == 1 and 'never as root' in result['msg'] and 'does not exist' in result['msg'], result
    result, code = tools(node, [{'name': 'tinypkg'}], worker='root')
    assert code == 1 and 'uid 0' in result['msg'], result
    assert ran_as(node) == set()
    # check mode before the account exists: reported, nothing asked
    result, code = pythons(node, worker='uvfleet-no-such-user', check=True)
    assert code == 0 and result['installed'] == [MINOR], result
    assert ran_as(node) == set()


def _receipt(node, tool, rows):
    path = os.path.join(node['tools'], tool, 'uv-receipt.toml')
    with open(path) as f:
        text = f.read()
    add = ''.join('    { name = "%s", install-path = "%s", from = "%s" },\n' % (name, target, tool) for name, target in rows)
    with open(path, 'w') as f:
        f.write(text.replace('entrypoints = [\n', 'entrypoints = [\n' + add, 1))
    os.chown(path, MEMBER_UID, GID)


def test_collaborative_tools_as_the_worker_and_the_names_a_member_writes_into_a_receipt(node):
    plant_interpreter(node)
    result, code = tools(node, [{'name': 'tinypkg'}])
    assert code == 0 and result['user'] == WORKER[0] and result['installed'] == ['tinypkg'], result
    assert result['executables'] == {'tinypkg': ['tinypkg']} and result['refused'] == []
    assert os.lstat(os.path.join(node['tools'], 'tinypkg')).st_uid == WORKER[1]
    venv_bin = os.path.join(node['tools'], 'tinypkg', 'bin')
    for name in ('ls', 'uv', 'python3.99'):
        make_file(os.path.join(venv_bin, name), mode=0o775, uid=MEMBER_UID, data=b'#!/bin/sh\n')
    os.symlink('/etc/passwd', os.path.join(venv_bin, 'linked'))
    _receipt(node, 'tinypkg', [('ls', '/x'), ('uv', '/x'), ('../x', '/x'), ('a\\nb', '/x'), ('python3', '/x'),
                               ('python3.99', '/x'), ('ghost', '/x'), ('linked', '/x'), ('a\\"b', '/x')])
    result, code = tools(node, [{'name': 'tinypkg'}])
    assert code == 0 and result['installed'] == [], result
    # ls passes here (plain, in the venv): each node refuses it as a command of its system (pythons_tools.yml)
    assert result['executables'] == {'tinypkg': ['ls', 'tinypkg']}, result
    refused = dict((r['name'], r['why']) for r in result['refused'])
    assert set(refused) == {'uv', '../x', 'a\\\\nb', 'python3', 'python3.99', 'ghost', 'linked', 'a\\\\"b'}, refused
    assert 'this role' in refused['uv'] and 'interpreter' in refused['python3'] and 'not in' in refused['ghost']
    assert 'not a regular file' in refused['linked'] and 'plain' in refused['../x']
    assert all(c.isprintable() for r in result['refused'] for c in r['name'])
    assert ran_as(node) <= {str(WORKER[1])} and ran_as(node)


def test_a_receipt_that_is_a_link_or_a_fifo_is_not_read(node):
    result, code = tools(node, [{'name': 'tinypkg'}])
    assert code == 0, result
    receipt = os.path.join(node['tools'], 'tinypkg', 'uv-receipt.toml')
    secret = os.path.join(node['state'], 'secret.toml')
    with open(secret, 'w') as f:
        f.write('[tool]\nentrypoints = [\n    { name = "secret", install-path = "/x" },\n]\n')
    os.rename(receipt, receipt + '.orig')
    os.symlink(secret, receipt)
    result, code = tools(node, [{'name': 'tinypkg'}], check=True)
    assert code == 0 and result['executables'] == {'tinypkg': []}, result
    os.unlink(receipt)
    os.mkfifo(receipt)   # root's open would block on a fifo without O_NONBLOCK (run() times out)
    result, code = tools(node, [{'name': 'tinypkg'}], check=True)
    assert code == 0 and result['executables'] == {'tinypkg': []}, result


def test_an_uninstall_never_deletes_what_a_receipt_names_outside(node):
    result, code = tools(node, [{'name': 'tinypkg'}])
    assert code == 0, result
    victim = make_file(os.path.join(node['state'], 'victim'), mode=0o644, gid=0, data=b'root')
    _receipt(node, 'tinypkg', [('gone', victim)])
    result, code = tools(node, [{'name': 'tinypkg', 'state': 'absent'}])
    assert code == 0 and result['removed'] == ['tinypkg'], result
    assert open(victim, 'rb').read() == b'root'
    assert not os.path.lexists(os.path.join(node['tools'], 'tinypkg'))
    assert any('tinypkg' in w and 'victim' in w for w in result['warnings']), result


def test_a_managed_tool_on_an_interpreter_someone_else_can_change_is_installed_anew(node):
    """Managed tool dir, collaborative Python dir: the tools run on the system's Python."""
    for name in ('tools', 'bin'):
        os.chmod(node[name], 0o2750)
        setfacl('-d', '-m', 'u::rwx,g::r-x,m::r-x,o::---', node[name])  # what the role sets in a managed dir
    exe = plant_interpreter(node, uid=0)   # root's at first: the managed tool is installed on it
    os.chmod(exe, 0o755)
    done = subprocess.run([node['uv'], 'tool', 'install', '-q', '--python', exe, 'tinypkg'], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, check=False)
    assert done.returncode == 0, done.stderr
    os.chown(exe, MEMBER_UID, GID)          # the Python dir turned collaborative: a member's now
    os.remove(os.path.join(node['marks'], 'ran'))
    result, code = tools(node, [{'name': 'tinypkg'}], managed=True, umask='0027')
    assert code == 0 and result['user'] == 'root' and result['installed'] == ['tinypkg'], result
    assert any("installed anew" in w for w in result["warnings"]), result
    assert result['interpreters']['tinypkg'] == os.path.realpath(SYSTEM_PYTHON)
    assert ran_as(node) == set()            # root never ran it, not even to look at the old venv


def test_check_mode_of_a_dir_to_be_retired_runs_nothing(node):
    plant_interpreter(node)
    result, code = pythons(node, managed=True, fresh=True, check=True)
    assert code == 0 and result['installed'] == [MINOR], result
    result, code = tools(node, [{'name': 'tinypkg'}], managed=True, fresh=True, check=True)
    assert code == 0 and result['installed'] == ['tinypkg'] and result['executables'] == {'tinypkg': []}, result
    assert ran_as(node) == set()


def test_check_mode_of_a_collaborative_dir_asks_as_the_worker_and_changes_nothing(node):
    plant_interpreter(node)
    result, code = pythons(node, check=True, requests=[MINOR, '3.99'])
    assert code == 0 and result['user'] == WORKER[0] and result['installed'] == ['3.99'], result
    assert result['kept'] == {MINOR: KEY}
    assert not os.path.exists(os.path.join(node['state'], 'record.json'))
    assert ran_as(node) == {str(WORKER[1])}
