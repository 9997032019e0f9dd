# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The play's installs into the shared Python and tool dirs (``uv_shared_pythons``, ``uv_shared_tools``).

Used by the role's scripts ``shared-pythons.py`` and ``shared-tools.py`` (roles/shared/files),
which import this library from where the role installs it for the node command.

Who runs uv:

* ``managed`` dirs hold only root's files (``managed-retire.py`` retires anything else
  before root's uv runs there), so root runs uv, with a PATH of system directories only,
  no ``VIRTUAL_ENV``/``CONDA_PREFIX``/``UV_PYTHON``/``PYTHON*`` from its environment, and
  its working directory ``/`` (no project, no ``.python-version``): uv finds no
  interpreter but root's own.  An interpreter is checked (``untrusted``) before uv is
  given it;
* ``collaborative`` dirs are the members' to change: a member may have replaced any
  interpreter, venv or receipt there, and uv runs the interpreters it finds.  So uv runs
  as the worker account (``privsep``: its uid, the shared group only), never as root;
  root keeps only what needs root (its record file in /var/lib/uvfleet).

What root reads from those dirs is read fd-relative without following a symlink
(``walk.open_path``, ``fileio.read_small``), and every name taken from it (an
installation key, a tool's executable) is checked before root uses it.
"""

from __future__ import absolute_import, division, print_function

import errno
import os
import re
import stat
import subprocess

from .. import privsep, rootexec
from ..fs import fileio
from ..fs.walk import open_path
from ..perms.errors import PermsError
from ..perms.groups import resolve_group

#: the PATH root's and the worker's uv run with: system directories only
SYSTEM_PATH = '/usr/sbin:/usr/bin:/sbin:/bin'
#: directories whose commands a tool's executable must not shadow (the wrapper dir's own tool wrappers excepted)
SYSTEM_COMMAND_DIRS = ('/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin')
#: environment variables passed on to uv (besides UV_*); nothing else of the caller's environment
_KEEP_ENV = ('LANG', 'LC_ALL', 'LC_CTYPE', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'http_proxy', 'https_proxy', 'no_proxy',
             'all_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'ALL_PROXY')
#: UV_* variables that would choose an interpreter for uv
_DROP_UV = frozenset(('UV_PYTHON',))
#: an executable name a wrapper may get: letters, digits, . _ + - (not first), at most 128
EXE_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$')
#: names that are this role's own commands
RESERVED = frozenset(('uv', 'uvx', 'uvfleet'))
#: names uv's (and everyone's) interpreter discovery takes for a Python on PATH
INTERPRETER_NAME = re.compile(r'^(python|pypy|graalpy)([0-9][0-9.]*)?[tdmw]?$', re.IGNORECASE)
#: an installation key of the Python dir (cpython-3.12.7-linux-x86_64-gnu)
KEY = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$')
MAX_RECEIPT = 1 << 20
RECEIPT = 'uv-receipt.toml'
_ENTRYPOINT = re.compile(r'\{\s*name\s*=\s*"((?:[^"\\\n]|\\.)*)"\s*,\s*install-path\s*=')


class InstallError(Exception):
    """What the play asked for cannot be done safely (the message says why and how to fix it)."""


class Runner(object):
    """Runs the uv wrapper ``uv`` as root (``worker`` None) or as the worker account, with a clean environment."""

    def __init__(self, uv, worker=None, extra_env=None):
        self.uv = uv
        self.worker = worker
        env = dict((k, os.environ[k]) for k in _KEEP_ENV if k in os.environ)
        env.update((k, v) for k, v in os.environ.items() if k.startswith('UV_') and k not in _DROP_UV)
        env.update(PATH=SYSTEM_PATH, NO_COLOR='1', UV_NO_PROGRESS='1',
                   HOME=os.environ.get('HOME', '/root') if worker is None else '/nonexistent')
        env.update(extra_env or {})
        self.env = env

    def run(self, *args):
        """``uv args...``: a CompletedProcess with text stdout/stderr."""
        # pylint: disable-next=ansible-bad-function  # run on the node by the role's script, not a module
        return subprocess.run([self.uv] + list(args), env=self.env, cwd='/', stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              preexec_fn=self.worker.demote() if self.worker is not None else None, check=False)


def who_installs(conf, what, directory):
    """``(worker or None, fresh)`` for one of the role's install scripts (its JSON ``conf``).

    ``managed``: root (None).  Otherwise the worker account ``conf['worker']`` of the shared
    group ``conf['group']`` (``privsep.worker``), checked; InstallError with the fix when it is
    missing or wrong, except in check mode, where nothing can then be asked and everything would
    be done (``fresh`` True).  ``fresh`` is also True in check mode for a dir the role would
    retire (``conf['fresh']``): it counts as empty and uv is not run.
    """
    fresh = bool(conf.get('fresh') and conf['check'])
    if conf['managed'] or fresh:
        return None, fresh
    try:
        return privsep.worker(conf['worker'], resolve_group(conf['group'])[0]), False
    except (privsep.PrivsepError, PermsError) as exc:
        if conf['check']:
            return None, True
        raise InstallError('the %s of the collaborative dir %s are installed as the worker account, never as root: %s'
                           % (what, directory, exc))


def untrusted(path):
    """None when root may run ``path`` (rootexec.check_executable: a file root owns and only root can change,
    as can every directory on the way to it); otherwise why not, naming the entry at fault."""
    try:
        rootexec.check_executable(path)
    except rootexec.UntrustedExecutable as exc:
        return str(exc)
    return None


def _open_dir(path):
    """fd of the directory ``path``, opened from / without following a symlink anywhere; None when it is not one."""
    try:
        return open_path(os.path.normpath(path))[0]
    except OSError:
        return None


def install_key(python_dir, path):
    """The installation key (a directory of ``python_dir``) that the interpreter ``path`` uv printed lies in.

    ``path`` comes from uv (the worker's, under collaborative): it is only parsed.  Its first
    component below ``python_dir`` must be a directory there, or one of uv's minor-version
    links naming one (read with readlinkat, never followed); the key must look like one.
    """
    prefix = python_dir.rstrip('/') + '/'
    if not path.startswith(prefix):
        return None
    first = path[len(prefix):].split('/', 1)[0]
    fd = _open_dir(python_dir)
    if fd is None:
        return None
    try:
        name = first
        for _hop in range(2):
            if not KEY.match(name):
                return None
            st = os.lstat(name, dir_fd=fd)
            if stat.S_ISDIR(st.st_mode):
                return name
            if not stat.S_ISLNK(st.st_mode):
                return None
            target = os.readlink(name, dir_fd=fd)
            name = target[len(prefix):] if target.startswith(prefix) else target
            if '/' in name:
                return None
        return None
    except OSError:
        return None
    finally:
        os.close(fd)


def read_receipt(tool_dir, tool):
    """The text of ``tool_dir/tool/uv-receipt.toml`` (None when there is none, it is not a regular file, it
    is larger than MAX_RECEIPT, or a symlink is on the way): read fd-relative (``fileio.read_small``)."""
    fd = _open_dir(os.path.join(tool_dir, tool))
    if fd is None:
        return None
    try:
        _st, data = fileio.read_small(RECEIPT, MAX_RECEIPT + 1, dir_fd=fd)
    except OSError:  # missing, a symlink (ELOOP), not a regular file (fileio.NotRegularFile)
        return None
    finally:
        os.close(fd)
    if len(data) > MAX_RECEIPT:
        return None
    return data.decode('utf-8', 'replace')


def entrypoints(text):
    """The executable names a receipt lists (as written: TOML escapes stay, and fail ``refuse``)."""
    return _ENTRYPOINT.findall(text or '')


def refuse(tool_dir, tool, exe):
    """Why the executable ``exe`` (a name from a receipt) gets no wrapper; None when it may get one.

    The name must be plain (``EXE_NAME``), not one of this role's commands, not an
    interpreter name (uv's discovery, anyone's, would take the wrapper for a Python),
    and be a regular file in the tool's own venv (``tool_dir/tool/bin``).  Whether it
    shadows a system command is checked on each node (tasks/pythons_tools.yml).
    """
    if not EXE_NAME.match(exe):
        return 'not a plain command name (letters, digits, . _ + -)'
    if exe in RESERVED:
        return 'the name of a command of this role'
    if INTERPRETER_NAME.match(exe):
        return 'the name of a Python interpreter (interpreter discovery would take it for one)'
    fd = _open_dir(os.path.join(tool_dir, tool, 'bin'))
    if fd is None:
        return 'the tool has no bin directory'
    try:
        st = os.lstat(exe, dir_fd=fd)
    except OSError as exc:
        return 'not in the tool\'s venv (%s)' % (exc.strerror if exc.errno != errno.ENOENT else 'no such file')
    finally:
        os.close(fd)
    if not stat.S_ISREG(st.st_mode):
        return 'not a regular file in the tool\'s venv'
    return None
