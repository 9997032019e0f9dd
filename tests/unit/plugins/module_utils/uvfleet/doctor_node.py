# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throwaway node for the doctor tests: real users and group, shared dirs, a wrapper, a real uv.

Everything lives under one temporary base: the shared cache, Python and tool dirs
(root:group 2770 with the role's default ACL), ``bin/uv`` (a wrapper with the
role's marker line that execs a copy of the real uv), the system ``uv.toml``
(found through XDG_CONFIG_DIRS, as uv finds a system file), the node
configuration, and the users' homes.  ``Node.doctor`` runs ``bin/uvfleet doctor
--json`` as one of the users, in a real child process with exactly the groups
given (``subprocess`` user/group/extra_groups), and returns the parsed report.
"""

from __future__ import absolute_import, division, print_function

import grp
import json
import os
import pwd
import shutil
import subprocess
import sys

import pytest

import perms_testlib

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTION = os.path.abspath(os.path.join(HERE, '..', '..', '..', '..', '..'))
SCRIPT = os.path.join(COLLECTION, 'bin', 'uvfleet')
# ansible-test units runs tests in parallel workers (pytest-xdist): accounts per worker,
# or one worker's usermod fails on a user another worker's process is running as
_WORKER = os.environ.get('PYTEST_XDIST_WORKER', '')
_SUFFIX = '-' + _WORKER if _WORKER else ''
GROUP = 'uvfdoc' + _SUFFIX
MEMBER = 'uvfdoc-ann' + _SUFFIX      # in the group database
OUTSIDER = 'uvfdoc-cid' + _SUFFIX    # not in the group
PEER = 'uvfdoc-bea' + _SUFFIX        # another member, who made entries in the cache
NODE_PYTHON = '/usr/bin/python3'  # what the role's shebang runs; the test venv's python may sit in /root (0700)


def real_uv():
    """The real uv of the test venv (requirements-dev.txt pins it), or skip."""
    for candidate in (os.path.join(os.path.dirname(sys.executable), 'uv'), shutil.which('uv')):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip('no uv in the test venv (make venv installs it from requirements-dev.txt)')
    return None


def ensure_account(name, home, group=None):
    """A real local user (created with useradd when missing), home dir owned by them."""
    if group and subprocess.call(['getent', 'group', group], stdout=subprocess.DEVNULL) != 0:
        perms_testlib.account_change(['groupadd', group], check=True)
    try:
        pwd.getpwnam(name)
    except KeyError:
        perms_testlib.account_change(['useradd', '-M', '-U', '-d', home, '-s', '/bin/sh', name], check=True)
    perms_testlib.account_change(['usermod', '-d', home, name], check=True)
    if group:
        perms_testlib.account_change(['usermod', '-a', '-G', group, name], check=True)
    os.makedirs(home, exist_ok=True)
    pw = pwd.getpwnam(name)
    os.chown(home, pw.pw_uid, pw.pw_gid)
    os.chmod(home, 0o755)
    return pw


class Node(object):
    """The shared setup of one test node (see the module docstring)."""

    def __init__(self, base, uv_real, acl=True, fallback_umask=None):
        self.base = base
        self.uv_real = uv_real
        self.gid = ensure_group(GROUP)
        self.cache = self.shared_dir('cache', acl)
        self.python = self.shared_dir('python', acl)
        self.tools = self.shared_dir('tools', acl)
        self.bin = os.path.join(base, 'bin')
        os.mkdir(self.bin)
        self.wrapper = os.path.join(self.bin, 'uv')
        lines = ['#!/bin/sh', '# uvfleet.uv.shared wrapper for %s' % self.uv_real,
                 ': "${UV_PYTHON_INSTALL_DIR:=%s}"' % self.python, ': "${UV_TOOL_DIR:=%s}"' % self.tools,
                 'export UV_PYTHON_INSTALL_DIR UV_TOOL_DIR']
        if fallback_umask:
            lines.append('umask %s' % fallback_umask)
        lines.append('exec %s "$@"' % self.uv_real)
        write(self.wrapper, '\n'.join(lines) + '\n', 0o755)
        self.xdg = os.path.join(base, 'etc', 'xdg')
        self.uv_toml = os.path.join(self.xdg, 'uv', 'uv.toml')
        os.makedirs(os.path.dirname(self.uv_toml))
        write(self.uv_toml, 'cache-dir = "%s"\nlink-mode = "copy"\n' % self.cache, 0o644)
        self.config_path = os.path.join(base, 'etc', 'config.json')
        self.config = {
            'group': GROUP, 'group_local': True, 'cache_dir': self.cache, 'python_install_dir': self.python,
            'python_bin_dir': self.bin, 'tool_dir': self.tools, 'tool_bin_dir': self.bin,
            'managed_dirs': [self.cache, self.python, self.tools], 'acl': 'required' if acl else 'off',
            'fallback': not acl, 'fallback_umask': fallback_umask or '0007', 'wrapper_dir': self.bin,
            'real_bin_dir': os.path.dirname(self.uv_real), 'uv_toml_path': self.uv_toml, 'link_mode': 'copy',
            'metrics_file': os.path.join(base, 'metrics', 'uvfleet.prom'),
        }
        self.write_config()
        homes = os.path.join(base, 'home')
        os.mkdir(homes)
        os.chmod(base, 0o755)
        self.member = ensure_account(MEMBER, os.path.join(homes, MEMBER), GROUP)
        self.peer = ensure_account(PEER, os.path.join(homes, PEER), GROUP)
        self.outsider = ensure_account(OUTSIDER, os.path.join(homes, OUTSIDER))

    def shared_dir(self, name, acl):
        return perms_testlib.make_dir(os.path.join(self.base, name), gid=self.gid, default_acl=acl)

    def write_config(self, **changes):
        self.config.update(changes)
        for key in [k for k, v in self.config.items() if v is None]:
            del self.config[key]
        write(self.config_path, json.dumps(self.config), 0o644)

    def env(self, pw, **extra):
        env = {'HOME': pw.pw_dir, 'USER': pw.pw_name, 'LOGNAME': pw.pw_name, 'XDG_CONFIG_DIRS': self.xdg,
               'PATH': '%s:/usr/bin:/bin' % self.bin, 'LANG': 'C.UTF-8'}
        env.update(extra)
        return dict((k, v) for k, v in env.items() if v is not None)

    def session_groups(self, pw):
        """The groups a fresh login of pw would have."""
        return os.getgrouplist(pw.pw_name, pw.pw_gid)

    def run(self, pw, args, groups=None, env=None, cwd=None, umask=0o022, timeout=30):
        groups = self.session_groups(pw) if groups is None else groups
        return subprocess.run(
            [node_python(), '-I', SCRIPT] + list(args), user=pw.pw_uid, group=pw.pw_gid, extra_groups=groups,
            env=env if env is not None else self.env(pw), cwd=cwd or pw.pw_dir, umask=umask,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, check=False)

    def doctor(self, pw, *args, **kwargs):
        """(exit status, report, {check name: check}) of `uvfleet doctor --json` run as pw."""
        result = self.run(pw, ['doctor', '--json', '--config', self.config_path] + list(args), **kwargs)
        assert result.stderr == b'', result.stderr.decode()
        report = json.loads(result.stdout.decode())
        assert report['exit'] == result.returncode
        return result.returncode, report, dict((c['name'], c) for c in report['checks'])


def node_python():
    if not os.access(NODE_PYTHON, os.X_OK):
        pytest.skip('no %s to run the node command as a test user' % NODE_PYTHON)
    return NODE_PYTHON


def copy_uv(directory):
    """A copy of the real uv that every test user can run."""
    path = os.path.join(directory, 'uv')
    shutil.copy(real_uv(), path)
    os.chmod(directory, 0o755)
    os.chmod(path, 0o755)
    return path


def ensure_group(name):
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        perms_testlib.account_change(['groupadd', name], check=True)
        return grp.getgrnam(name).gr_gid


def write(path, text, mode):
    with open(path, 'w') as handle:
        handle.write(text)
    os.chmod(path, mode)


def remove_accounts():
    for name in (MEMBER, PEER, OUTSIDER):
        perms_testlib.account_change(['userdel', name])
    perms_testlib.account_change(['groupdel', GROUP])


def as_user(pw, path, data=b'x', mode=0o660):
    """Create a file as pw (real uid, through a child process)."""
    code = 'import os,sys; fd=os.open(sys.argv[1], os.O_WRONLY|os.O_CREAT|os.O_EXCL, 0o666); os.write(fd, b"x"); ' \
           'os.fchmod(fd, int(sys.argv[2], 8))'
    subprocess.check_call([node_python(), '-I', '-c', code, path, '%o' % mode], user=pw.pw_uid, group=pw.pw_gid,
                          extra_groups=os.getgrouplist(pw.pw_name, pw.pw_gid))
    return path
