# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``uvfleet doctor``: why uv fails for the member who runs it, and the fix.

Run by any user, without root, in the directory where they use uv.  One line per
check (ok / warning / problem), the cause and the exact fix under every warning
and problem; ``--json`` for scripts.  Exit 0 when uv will work for this user
(warnings included), 1 when a problem blocks it, 2 on a usage error.

It changes nothing, except one temporary directory (``.tmp-uvfleet-doctor-*``,
with two small files) that it creates in the cache and removes again: that is
how it learns whether this user can write there, what the group gets on what
this user creates, whether flock works there and whether the file system
clones.  It runs the ``uv`` this user runs (first on PATH) to learn the
directories uv really uses, with a timeout, and never waits longer than
``--lock-wait`` for uv's cache lock.  docs/troubleshooting.md maps uv's error
messages to these checks.
"""

from __future__ import absolute_import, division, print_function

import argparse
import errno
import fcntl
import grp
import json
import os
import pwd
import re
import signal
import stat
import subprocess
import sys
import time

from . import acl
from . import nodeconfig
from . import promparse
from . import reflink
from . import uvsettings
from .escape import printable

HELP = 'for members: why uv fails for you on this node, and the fix (no root needed)'
PROG = 'uvfleet doctor'

OK, WARNING, PROBLEM = 'ok', 'warning', 'problem'
WRAPPER_MARKER = '# uvfleet.uv.shared wrapper'
DEFAULT_METRICS = '/var/lib/prometheus/node-exporter/uvfleet.prom'
_CLOEXEC = getattr(os, 'O_CLOEXEC', 0)
ENOTSUPP = 524  # the kernel's internal "not supported", seen from flock on NFS homes (uv#18073)
LOCK_BROKEN = set(e for e in (errno.ENOLCK, ENOTSUPP, getattr(errno, 'EOPNOTSUPP', None),
                              getattr(errno, 'ENOTSUP', None), errno.EINVAL, errno.EBADF, errno.EIO) if e)
LOCK_BUSY = set((errno.EWOULDBLOCK, errno.EAGAIN))
READ_SCAN_ENTRIES = 400
STALE_SECONDS = 7 * 86400
# Where the uv of a check sets the environment-only setting, and what it is called there.
ENV_DIRS = {
    'python': ('python_install_dir', 'UV_PYTHON_INSTALL_DIR', 'Python', 'python_policy',
               'uv python install', '~/.local/share/uv/python'),
    'tool': ('tool_dir', 'UV_TOOL_DIR', 'tool', 'tool_policy', 'uv tool install', '~/.local/share/uv/tools'),
}


class Check(object):
    """One line of the report."""

    def __init__(self, name, status, summary, cause=None, fix=None, **details):
        self.name = name
        self.status = status
        self.summary = summary
        self.cause = cause
        self.fix = fix
        self.details = details

    def as_dict(self):
        return {'name': self.name, 'status': self.status, 'summary': self.summary,
                'cause': self.cause, 'fix': self.fix, 'details': self.details}


class Doctor(object):
    """The checks, in order; later checks use what earlier ones found (self.* attributes)."""

    def __init__(self, config, environ, cwd, lock_wait=1.0, uv_timeout=5.0, config_error=None,
                 config_path=nodeconfig.DEFAULT_PATH):
        self.config = config
        self.config_error = config_error
        self.config_path = config_path
        self.environ = dict(environ)
        self.cwd = cwd
        self.lock_wait = lock_wait
        self.uv_timeout = uv_timeout
        self.uid = os.getuid()
        try:
            self.pw = pwd.getpwuid(self.uid)
            self.user, self.home = self.pw.pw_name, self.pw.pw_dir
        except KeyError:
            self.pw, self.user, self.home = None, str(self.uid), self.environ.get('HOME', '/')
        self.home = self.environ.get('HOME') or self.home
        self.checks = []
        self.group_fix = None      # the fix of the group check when it found a problem
        self.group_reason = None   # and its cause, as the end of a sentence
        self.gid = None
        self.uv = None             # the uv this user runs
        self.uv_is_wrapper = False
        self.wrapper_text = ''
        self.reports = {}          # 'cache' / 'python' / 'tool' -> (path or None, error or None)
        self.cache = None          # the cache uv uses for this user
        self.cache_reachable = False
        self.probe = {}            # what the temporary entry showed

    # ---------------------------------------------------------------- helpers

    def add(self, *args, **kwargs):
        check = Check(*args, **kwargs)
        self.checks.append(check)
        return check

    def shared(self, key):
        value = self.config.get(key) or ''
        return os.path.normpath(value) if value else None

    def access_fix(self, admin_fix):
        """The fix for a permission error: the group's when the group is the cause, else the admin's."""
        return self.group_fix or admin_fix

    def access_cause(self, what):
        if self.group_fix:
            return '%s, because %s (see the group check)' % (what, self.group_reason)
        return what

    # ---------------------------------------------------------------- checks

    def check_config(self):
        if self.config_error:
            self.add('config', PROBLEM, 'the node configuration cannot be trusted: %s' % self.config_error,
                     cause='uvfleet reads the shared directories and the group from %s' % self.config_path,
                     fix="ask the node's admin to rerun the uvfleet.uv.shared role, which rewrites it")
        elif not self.config:
            self.add('config', WARNING, 'no uvfleet configuration on this node (%s is missing)' % self.config_path,
                     cause='the uvfleet.uv.shared role has not set up this node, so there is no shared cache '
                           'to check against',
                     fix="ask the node's admin to apply the uvfleet.uv.shared role to this node")
        else:
            self.add('config', OK, 'node configuration %s: group %s, shared cache %s' % (
                self.config_path, self.config.get('group') or '-', self.config.get('cache_dir') or '-'))

    def check_group(self):
        name = self.config.get('group')
        if not name:
            self.add('group', OK, 'no shared group is configured on this node')
            return
        if self.config.get('group_local', True):
            granter = "the node's admin (the uvfleet.uv.shared role, variable uv_shared_group_members)"
        else:
            granter = "the admin of your directory service (the group %s comes from it, not from this node)" % name
        try:
            group = grp.getgrnam(name)
        except KeyError:
            self.group_fix = "ask %s to create the group %s, or to make it resolve on this node" % (granter, name)
            self.group_reason = 'the group %s does not exist here' % name
            self.add('group', PROBLEM, 'the shared group %s does not exist on this node' % name,
                     cause='uv needs the group to enter the shared directories', fix=self.group_fix)
            return
        self.gid = group.gr_gid
        if self.uid == 0:
            self.add('group', WARNING, 'you are root: permissions do not apply to you',
                     cause='the doctor answers for the user who runs it',
                     fix='run `uvfleet doctor` as the member who has the problem (e.g. `sudo -iu NAME uvfleet doctor`)')
            return
        primary = self.pw.pw_gid if self.pw else os.getgid()
        try:
            in_db = group.gr_gid == primary or group.gr_gid in os.getgrouplist(self.user, primary)
        except (OSError, TypeError):
            in_db = group.gr_gid == primary or self.user in group.gr_mem
        in_session = group.gr_gid in os.getgroups() or group.gr_gid == os.getegid()
        details = {'group': name, 'gid': group.gr_gid, 'in_group_database': in_db, 'in_session': in_session}
        if in_db and in_session:
            self.add('group', OK, '%s is a member of %s, and this session has the group' % (self.user, name), **details)
        elif in_db and numeric_start(self.environ):
            summary, cause, self.group_fix = numeric_start_advice(self.user, name, group.gr_gid)
            self.group_reason = 'this process has no supplementary groups, so not %s' % name
            self.add('group', PROBLEM, summary, cause=cause, fix=self.group_fix, numeric_start=True, **details)
        elif in_db:
            self.group_fix = 'log in again (a new ssh or desktop session), or run `newgrp %s` in this shell' % name
            self.group_reason = 'this session does not have the group %s' % name
            self.add('group', PROBLEM,
                     '%s was added to %s after this session started: this session does not have the group yet'
                     % (self.user, name),
                     cause='a process keeps the groups it had at login; the group database lists you, '
                           'this session does not', fix=self.group_fix, **details)
        elif in_session:
            self.add('group', WARNING, 'this session has %s, but the group database no longer lists %s'
                     % (name, self.user),
                     cause='you were removed from the group; your next login will not have it',
                     fix='ask %s to add you again if you still need the shared cache' % granter, **details)
        else:
            self.group_fix = 'ask %s to add %s to the group %s, then log in again' % (granter, self.user, name)
            self.group_reason = 'you are not a member of the group %s' % name
            self.add('group', PROBLEM, '%s is not a member of the group %s, which the shared uv directories require'
                     % (self.user, name),
                     cause='only members of %s may enter %s' % (name, self.config.get('cache_dir') or 'them'),
                     fix=self.group_fix, **details)

    def check_uv(self):
        wrapper = os.path.join(self.config.get('wrapper_dir') or '/usr/local/bin', 'uv')
        found = which('uv', self.environ.get('PATH', os.defpath))
        self.uv = found
        if found is None:
            self.uv = wrapper if is_wrapper(wrapper) else None
            fix = ('put %s on your PATH: `export PATH=%s:$PATH`' % (os.path.dirname(wrapper), os.path.dirname(wrapper))
                   if self.uv else "ask the node's admin to install uv (the uvfleet.uv.install and shared roles)")
            self.add('uv', PROBLEM, 'there is no uv on your PATH', cause='PATH=%s' % self.environ.get('PATH', ''),
                     fix=fix)
        elif is_wrapper(found):
            self.uv_is_wrapper = True
            self.add('uv', OK, 'uv on your PATH is the shared wrapper %s' % found, path=found)
        else:
            fallback = self.config.get('fallback')
            what = 'the environment-only settings (UV_PYTHON_INSTALL_DIR, UV_TOOL_DIR, ...)'
            if fallback:
                what += " and the group umask %s" % self.config.get('fallback_umask', '0007')
            if is_wrapper(wrapper):
                fix = 'remove or rename %s, or put %s before %s in PATH (`export PATH=%s:$PATH`)' % (
                    found, os.path.dirname(wrapper), os.path.dirname(found), os.path.dirname(wrapper))
            else:
                fix = "ask the node's admin to rerun the uvfleet.uv.shared role: the wrapper %s is missing" % wrapper
            self.add('uv', WARNING, '%s comes first on your PATH and bypasses the shared wrapper %s' % (found, wrapper),
                     cause='uv started that way misses %s that the wrapper sets' % what, fix=fix,
                     path=found, wrapper=wrapper)
        if self.uv and self.uv_is_wrapper:
            self.wrapper_text = read_head(self.uv, 1 << 16)

    def run_uv(self):
        """`uv cache dir`, `uv python dir`, `uv tool dir` with the user's uv, in parallel, with a timeout."""
        if not self.uv:
            return
        procs = {}
        for what in ('cache', 'python', 'tool'):
            try:
                # pylint: disable-next=ansible-bad-function  # the node command, not a module: no run_command
                procs[what] = subprocess.Popen([self.uv, what, 'dir'], cwd=self.cwd, env=self.environ,
                                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                               stderr=subprocess.PIPE, close_fds=True, start_new_session=True)
            except OSError as exc:
                self.reports[what] = (None, 'cannot run %s: %s' % (self.uv, exc.strerror))
        deadline = time.monotonic() + self.uv_timeout
        for what, proc in procs.items():
            try:
                out, err = proc.communicate(timeout=max(0.01, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                proc.communicate()
                self.reports[what] = (None, '`%s %s dir` did not answer within %g s' % (self.uv, what, self.uv_timeout))
                continue
            text = out.decode('utf-8', 'replace').strip()
            if proc.returncode == 0 and text:
                self.reports[what] = (os.path.normpath(os.path.join(self.cwd, text.splitlines()[-1])), None)
            else:
                self.reports[what] = (None, uv_error(err.decode('utf-8', 'replace'), proc.returncode))

    def uv_failed(self, name, error):
        path = re.search(r'Failed to parse: `?([^`\s]+\.toml)', error)
        fix = ('fix or remove %s' % os.path.normpath(os.path.join(self.cwd, path.group(1))) if path
               else 'run `uv %s dir` to see the whole error' % name)
        self.add('%s_dir' % name, PROBLEM, 'uv fails before it does anything: %s' % error,
                 cause='every uv command fails the same way', fix=fix)

    def check_cache_dir(self):
        shared = self.shared('cache_dir')
        path, error = self.reports.get('cache', (None, None))
        if error:
            self.uv_failed('cache', error)
        if path is None:
            # no uv ran, or it failed (reported above): check the access to the shared cache all the same
            self.cache = shared
            return
        self.cache = path
        if not shared:
            self.add('cache_dir', OK, 'uv caches in %s (no shared cache is configured here)' % path, path=path)
            return
        if same_path(path, shared):
            self.add('cache_dir', OK, 'uv uses the shared cache %s' % path, path=path)
            return
        self.add('cache_dir', WARNING, *self.override('cache-dir', 'UV_CACHE_DIR', path, shared, 'cache'),
                 path=path, shared=shared)

    def override(self, key, env_var, path, shared, what):
        """(summary, cause, fix) of a uv.toml setting that moves uv away from the shared setting."""
        env, cwd, home = self.environ, self.cwd, self.home
        if what == 'cache' and uvsettings.truthy(env.get('UV_NO_CACHE')):
            source = uvsettings.Source('env', 'UV_NO_CACHE', env['UV_NO_CACHE'])
        else:
            source = uvsettings.source(key, env_var, env, cwd, home)
        system_toml = self.config.get('uv_toml_path') or uvsettings.SYSTEM_FILE
        summary = 'uv uses %s, not the shared %s %s' % (path, what, shared)
        if source.kind != 'default':
            summary += ': %s overrides it' % source.describe(key)
        if source.kind == 'env':
            cause = '%s overrides it (a variable beats every uv.toml)' % source.describe(key)
            fix = 'unset %s (`unset %s`, and remove it from your shell start files)' % (source.where, source.where)
        elif source.kind in ('project', 'user', 'config_file') or (
                source.kind == 'system' and not same_path(source.where, system_toml)):
            cause = '%s overrides it (the %s file beats the system file)' % (
                source.describe(key), source.kind.replace('_', ' '))
            fix = 'remove the %s line from %s' % (key, source.where)
            for variable, sentence in uvsettings.notes(env, system_toml):
                cause += '; ' + sentence
                fix += ', or unset %s' % variable
        else:
            found = uvsettings.notes(env, system_toml)
            if found:
                cause = '; '.join(sentence for _variable, sentence in found)
                fix = 'unset %s' % ' and '.join(variable for variable, _sentence in found)
            elif not os.path.isfile(system_toml):
                cause = 'the system file %s, which names the shared %s, is missing' % (system_toml, what)
                fix = "ask the node's admin to rerun the uvfleet.uv.shared role"
            else:
                cause = 'no setting found that explains it (%s names the shared %s)' % (system_toml, what)
                fix = 'run `uv --verbose cache dir` in this directory to see which file uv reads'
        if source.kind == 'default':
            summary += ': ' + cause.split(';')[0]
        return summary, cause, fix

    def check_env_dir(self, kind):
        key, env_var, label, _policy, _command, _default = ENV_DIRS[kind]
        shared = self.shared(key)
        path, error = self.reports.get(kind, (None, None))
        name = '%s_dir' % kind
        if error:
            if self.reports.get('cache', (None, None))[1] != error:
                self.uv_failed(kind, error)
            return
        if path is None:
            return
        if not shared:
            self.add(name, OK, '%s dir %s (no shared one is configured here)' % (label, path), path=path)
        elif same_path(path, shared):
            self.add(name, OK, 'uv uses the shared %s dir %s' % (label, path), path=path)
        elif self.environ.get(env_var):
            status = OK if self.config.get(ENV_DIRS[kind][3]) == 'managed' else WARNING
            self.add(name, status, 'uv uses %s, not the shared %s dir %s: %s=%s overrides it'
                     % (path, label, shared, env_var, self.environ[env_var]),
                     cause='a value you set beats the wrapper\'s default',
                     fix=None if status == OK else 'unset %s to share %s installs with the group' % (env_var, label),
                     path=path, shared=shared)
        elif not self.uv_is_wrapper:
            self.add(name, WARNING, 'uv uses %s, not the shared %s dir %s: your uv %s bypasses the wrapper'
                     % (path, label, shared, self.uv),
                     cause='%s is environment-only (uv.toml cannot set it); the wrapper sets %s=%s'
                     % (env_var, env_var, shared),
                     fix='use the shared wrapper (see the uv check), or `export %s=%s`' % (env_var, shared),
                     path=path, shared=shared)
        else:
            self.add(name, WARNING, 'uv uses %s, not the shared %s dir %s' % (path, label, shared),
                     cause='the wrapper %s does not set %s' % (self.uv, env_var),
                     fix="ask the node's admin to rerun the uvfleet.uv.shared role", path=path, shared=shared)

    def check_cache_access(self):
        """cache_write, cache_lock, cache_read: what uv does in the cache, as this user."""
        cache = self.cache
        if not cache:
            return
        is_shared = same_path(cache, self.shared('cache_dir') or '')
        try:
            st = os.stat(cache)
        except OSError as exc:
            if exc.errno == errno.ENOENT and not is_shared:
                parent = nearest_existing(cache)
                if os.access(parent, os.W_OK | os.X_OK):
                    self.add('cache_write', OK, '%s does not exist yet; uv will create it (%s is writable)'
                             % (cache, parent))
                else:
                    self.add('cache_write', PROBLEM, 'uv cannot create its cache %s: %s is not writable for you'
                             % (cache, parent), cause='the cache dir is missing and its parent is closed',
                             fix='point UV_CACHE_DIR at a directory you can write, or unset it')
                return
            self.cache_error(exc)
            return
        if not stat.S_ISDIR(st.st_mode):
            self.add('cache_write', PROBLEM, 'the cache %s is not a directory' % cache,
                     cause='uv needs a directory there', fix='remove it, or point uv at another cache')
            return
        self.probe_cache(cache)
        if self.cache_reachable:
            self.check_lock(cache)
            if is_shared:
                self.check_read(cache)
            else:
                self.add('cache_read', OK, 'not needed: %s is your own cache' % cache)

    def cache_error(self, exc, what=None):
        what = what or 'uv cannot use the cache %s (%s)' % (self.cache, exc.strerror)
        if exc.errno == errno.EROFS:
            cause, fix = ('the file system is read-only; uv needs to write to its cache (read-only caches are '
                          'not supported, uv#15934)',
                          'use a writable cache: `export UV_CACHE_DIR=$HOME/.cache/uv` for now, and tell the admin')
        elif exc.errno in (errno.ENOSPC, getattr(errno, 'EDQUOT', errno.ENOSPC)):
            cause, fix = 'the file system is full or your quota is used up', "free space, or tell the node's admin"
        else:
            cause = self.access_cause('you may not write in %s' % self.cache)
            fix = self.access_fix("ask the node's admin to run `uvfleet repair` (it gives the group its access back)")
        self.add('cache_write', PROBLEM, what, cause=cause, fix=fix, errno=exc.errno)
        for name in ('cache_lock', 'cache_read'):
            self.add(name, PROBLEM, 'not checked: the cache is not usable for you (see cache_write)',
                     cause=cause, fix=fix, blocked_by='cache_write')

    def probe_cache(self, cache):
        """Create a temporary directory with two files in the cache as uv would, look at them, remove them.

        Relative to fds (the cache, then the new directory opened with O_NOFOLLOW): other
        members write the cache and may swap the new directory for a symlink, and whoever
        runs the doctor (root too) never writes through it.
        """
        umask, umask_from = self.uv_umask()
        name = '.tmp-uvfleet-doctor-%d-%s' % (os.getpid(), os.urandom(4).hex())
        old = os.umask(umask)
        fds = []       # cache fd, then the new directory's fd
        made = []      # (dir fd index, name, is a directory), removed last first
        try:
            fds.append(os.open(cache, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC))
            os.mkdir(name, 0o777, dir_fd=fds[0])
            made.append((0, name, True))
            fds.append(os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC, dir_fd=fds[0]))
            dir_st = os.fstat(fds[1])
            # read and write: FICLONE needs a source open for reading
            fd = os.open('file', os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC, 0o666,
                         dir_fd=fds[1])
            made.append((1, 'file', False))
            try:
                os.write(fd, b'uvfleet doctor probe\n' * 200)
                file_st = os.fstat(fd)
                self.probe.update(dir_mode=dir_st.st_mode, dir_gid=dir_st.st_gid, file_mode=file_st.st_mode,
                                  file_gid=file_st.st_gid, dev=file_st.st_dev, umask=umask, umask_from=umask_from)
                self.probe['flock_errno'] = try_flock(fd)
                self.probe['reflink'] = reflink.clone_into(fd, 'clone', fds[1])
                if self.probe['reflink'] is not None:
                    made.append((1, 'clone', False))
            finally:
                os.close(fd)
        except OSError as exc:
            self.cache_error(exc, 'you cannot create an entry in the cache %s (%s)' % (cache, exc.strerror))
            return
        finally:
            os.umask(old)
            for index, entry, is_dir in reversed(made):
                try:
                    (os.rmdir if is_dir else os.unlink)(entry, dir_fd=fds[index])
                except OSError:
                    pass
            for fd in fds:
                os.close(fd)
        self.cache_reachable = True
        self.add('cache_write', OK, 'you can create and remove entries in %s' % cache)

    def uv_umask(self):
        """The umask uv runs with: the wrapper's (fallback), else this process's."""
        found = re.search(r'^\s*umask\s+([0-7]{1,4})\s*$', self.wrapper_text or '', re.M)
        if self.uv_is_wrapper and found:
            return int(found.group(1), 8), 'the wrapper %s' % self.uv
        mask = os.umask(0o022)
        os.umask(mask)
        return mask, 'your own'

    def check_lock(self, cache):
        path = os.path.join(cache, '.lock')
        broken = self.probe.get('flock_errno')
        if broken:
            self.lock_broken(cache, broken)
            return
        try:
            fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, 'O_CLOEXEC', 0))
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                self.add('cache_lock', OK, 'no %s yet: uv creates it, and flock works on this file system' % path)
            elif exc.errno == errno.ELOOP:
                self.add('cache_lock', PROBLEM, '%s is a symlink' % path,
                         cause='uv opens its lock through it (a member may have planted it)',
                         fix="ask the node's admin to remove %s (uv recreates it)" % path)
            else:
                owner = describe_owner(path)
                self.add('cache_lock', PROBLEM, 'you cannot open uv\'s lock %s for writing (%s)' % (path, exc.strerror),
                         cause=self.access_cause('every uv command opens it for writing; it is %s' % owner),
                         fix=self.access_fix("ask the node's admin to make it group-writable (`chmod g+w %s`)" % path))
            return
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                self.add('cache_lock', PROBLEM, '%s is not a regular file' % path,
                         cause='uv cannot lock it', fix="ask the node's admin to remove %s (uv recreates it)" % path)
                return
            start = time.monotonic()
            while True:
                code = try_flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                waited = time.monotonic() - start
                if code is None:
                    self.add('cache_lock', OK, "uv's shared lock on %s: taken and released" % path)
                    return
                if code not in LOCK_BUSY:
                    self.lock_broken(cache, code)
                    return
                if waited >= self.lock_wait:
                    holder = lock_holder(st)
                    self.add('cache_lock', WARNING, 'the cache lock %s is busy (not broken): %s holds it exclusively; '
                             'waited %.1f s' % (path, holder or 'another process', waited),
                             cause='a `uv cache clean` or `uv cache prune` is running; every uv command waits for it '
                                   '(up to UV_LOCK_TIMEOUT, 300 s by default)',
                             fix='wait until it finishes, then run uv again (uv also waits on its own)',
                             busy=True, holder=holder, waited=round(waited, 2))
                    return
                time.sleep(min(0.05, max(0.0, self.lock_wait - waited)))
        finally:
            os.close(fd)

    def lock_broken(self, cache, code):
        fstype = fs_type(cache)
        self.add('cache_lock', PROBLEM, 'flock does not work on the file system of %s (%s, os error %d): broken, '
                 'not busy' % (cache, fstype, code),
                 cause='uv takes a flock on %s/.lock for every command, so every uv command fails here '
                       '(network homes often refuse flock: os error 524, uv#18073)' % cache,
                 fix='use a cache on a local file system (`export UV_CACHE_DIR=/var/tmp/$USER-uv-cache`) and tell '
                     "the node's admin that flock fails on %s (%s)" % (cache, fstype),
                 broken=True, errno=code, fs_type=fstype)

    def check_read(self, cache):
        found = find_foreign(cache, self.uid)
        if found is None:
            self.add('cache_read', OK, 'no entry of another member in %s to read (nothing shared yet)' % cache)
            return
        path, st, error = found
        owner = user_name(st.st_uid)
        if error is None:
            self.add('cache_read', OK, 'you can read %s, which %s made' % (path, owner), path=path, owner=owner)
            return
        self.add('cache_read', PROBLEM, 'you cannot read %s, which %s made (mode %04o): %s'
                 % (path, owner, stat.S_IMODE(st.st_mode), error.strerror),
                 cause=self.access_cause('uv fails with `Permission denied` when it reuses this entry'),
                 fix=self.access_fix("ask the node's admin to run `uvfleet repair` (it gives the group read and "
                                     "write on everything in the cache)"),
                 path=path, owner=owner)

    def check_group_usable(self):
        if not self.cache_reachable:
            return
        shared = self.shared('cache_dir')
        if not shared or not same_path(self.cache, shared):
            self.add('group_usable', OK, 'not needed: %s is your own cache' % self.cache)
            return
        probe = self.probe
        try:
            has_acl = bool(acl.read(self.cache, acl.DEFAULT))
        except OSError:
            has_acl = False
        umask_text = '%04o' % probe['umask']
        bad = []
        if probe['file_mode'] & 0o060 != 0o060:
            bad.append('files come out %s (group cannot %s)' % (
                mode_text(probe['file_mode']), 'read or write' if not probe['file_mode'] & 0o040 else 'write'))
        if probe['dir_mode'] & 0o070 != 0o070:
            bad.append('directories come out %s' % mode_text(probe['dir_mode']))
        if self.gid is not None and (probe['file_gid'] != self.gid or probe['dir_gid'] != self.gid):
            bad.append('they belong to group %s, not %s' % (group_name(probe['file_gid']), self.config.get('group')))
        how = ('the default ACL of %s gives the group rw whatever your umask, %s' % (self.cache, umask_text)
               if has_acl else 'no default ACL; %s umask %s' % (probe['umask_from'], umask_text))
        if not bad:
            self.add('group_usable', OK, 'what you create in %s is usable by the group (%s)' % (self.cache, how),
                     acl=has_acl, umask=umask_text)
            return
        if has_acl or self.gid is not None and probe['dir_gid'] != self.gid:
            fix = "ask the node's admin to run `uvfleet repair` (it restores the default ACL and the setgid bit)"
        elif not self.uv_is_wrapper:
            fix = 'use the shared wrapper (see the uv check), or run `umask 0007` before uv'
        else:
            fix = "ask the node's admin to rerun the uvfleet.uv.shared role (the wrapper's umask is %s)" % umask_text
        self.add('group_usable', WARNING, 'what you create in %s will not be usable by the group: %s'
                 % (self.cache, '; '.join(bad)),
                 cause='%s: other members get `Permission denied` on your entries' % how, fix=fix,
                 acl=has_acl, umask=umask_text)

    def check_lost_acls(self):
        """The default ACLs the role relies on are gone (an image's layers drop them: docs/images.md)."""
        cache = self.shared('cache_dir')
        if not cache or self.config.get('fallback') or (self.config.get('acl') or 'auto') == 'off':
            return
        try:
            if acl.read(cache, acl.DEFAULT):
                return
        except OSError:
            return  # not reachable (the access checks say why) or no ACLs on this file system at all
        umask = self.probe.get('umask')
        yours = ('umask %04o' % umask) if umask is not None else 'umask'
        details = {'path': cache, 'container': in_container(self.environ)}
        if details['container']:
            self.add('acl', WARNING, 'this image lost its ACLs: %s has no default ACL, which the image build set up'
                     % cache,
                     cause='image layers do not keep POSIX ACLs, and the wrappers set no group umask because the '
                           'role saw ACLs working when the image was built: what uv creates gets your %s, and '
                           'what root created in later build steps is closed to the group' % yours,
                     fix='rebuild the image with the image mode of the uvfleet.uv.shared role (uv_shared_target '
                         'auto or image) and its last step `uvfleet repair` (docs/images.md); until then run '
                         '`umask 0007` before uv in the job', **details)
        else:
            self.add('acl', WARNING, 'the default ACL of %s is gone, and the wrappers rely on it' % cache,
                     cause='something removed it (a copy or restore without ACLs, `setfacl -b`); what uv creates '
                           'there gets your %s' % yours,
                     fix="ask the node's admin to run `uvfleet repair` (it sets the default ACLs again)", **details)

    def check_env_dir_access(self, kind):
        key, env_var, label, policy_key, command, default = ENV_DIRS[kind]
        name = '%s_access' % kind
        shared = self.shared(key)
        path = self.reports.get(kind, (None, None))[0] or shared
        if not path:
            return
        if shared and not same_path(path, shared):
            self.add(name, OK, 'not needed: %s is your own %s dir' % (path, label))
            return
        policy = self.config.get(policy_key) or 'collaborative'
        if not os.path.isdir(path):
            self.add(name, WARNING, 'the shared %s dir %s does not exist' % (label, path),
                     cause='the role creates it', fix="ask the node's admin to rerun the uvfleet.uv.shared role")
            return
        if policy == 'managed':
            missing = self.uvx_blockers(path) if kind == 'tool' and os.access(path, os.R_OK | os.X_OK) else []
            if missing:
                self.add(name, PROBLEM, '`uvx` would fail after its run: %s' % missing[0],
                         cause='uv writes %s/.gitignore the first time and takes %s/.lock; in the managed tool dir '
                               'only root can create them, so the role keeps both there' % (path, path),
                         fix="ask the node's admin to rerun the uvfleet.uv.shared role", policy=policy, blocked=missing)
            elif os.access(path, os.R_OK | os.X_OK):
                self.add(name, OK, '%s is read-only by design (policy managed): the shared %ss are for you to use; '
                         'install into your own %s (e.g. `%s=%s %s ...`)' % (path, label, env_var, env_var, default,
                                                                             command), policy=policy)
            else:
                self.add(name, PROBLEM, 'you cannot use the shared %s dir %s' % (label, path),
                         cause=self.access_cause('it is %s' % describe_owner(path)),
                         fix=self.access_fix("ask the node's admin to rerun the uvfleet.uv.shared role"), policy=policy)
            return
        blocked = []
        if not os.access(path, os.W_OK | os.X_OK):
            blocked.append('%s is not writable for you (%s)' % (path, describe_owner(path)))
        for entry, mode in (('.lock', os.W_OK), ('.temp', os.W_OK | os.X_OK)):
            full = os.path.join(path, entry)
            if os.path.lexists(full) and not os.access(full, mode):
                blocked.append('%s is not writable for you (%s)' % (full, describe_owner(full)))
        if not blocked:
            self.add(name, OK, 'you can install into the shared %s dir %s (policy collaborative)' % (label, path),
                     policy=policy)
            return
        self.add(name, PROBLEM, '`%s` would fail: %s' % (command, blocked[0]),
                 cause=self.access_cause('uv takes %s/.lock and works in %s/.temp there' % (path, path)),
                 fix=self.access_fix("ask the node's admin to run `uvfleet repair` (it makes the group's "
                                     "directories group-writable again)"),
                 policy=policy, blocked=blocked)

    @staticmethod
    def uvx_blockers(path):
        """What in a managed tool dir makes a member's uvx fail: uv's .gitignore missing, its .lock not writable."""
        out = []
        if not os.path.lexists(os.path.join(path, '.gitignore')):
            out.append('%s/.gitignore is missing' % path)
        lock = os.path.join(path, '.lock')
        if not os.path.lexists(lock):
            out.append('%s is missing' % lock)
        elif not os.access(lock, os.W_OK):
            out.append('%s is not writable for you (%s)' % (lock, describe_owner(lock)))
        return out

    def check_link_mode(self):
        if not self.cache_reachable:
            return
        source = uvsettings.source('link-mode', 'UV_LINK_MODE', self.environ, self.cwd, self.home)
        mode = (source.value or 'clone').strip().lower()
        where = source.describe('link-mode')
        try:
            same_fs = os.stat(self.cwd).st_dev == os.stat(self.cache).st_dev
        except OSError:
            same_fs = False
        reflink = bool(self.probe.get('reflink'))
        details = {'mode': mode, 'source': source.as_dict(), 'same_file_system': same_fs, 'reflink': reflink}
        copy_note = 'every venv gets its own copy of each file (disk: full size per venv, nothing shared)'
        hardlink = ('venv files share inodes with the cache: any group member can change files in your venv, and '
                    'files another member made cannot be hardlinked (fs.protected_hardlinks; '
                    '`failed to hardlink file ... Operation not permitted`, uv#5581)')
        hardlink_fix = ('use copy (`export UV_LINK_MODE=copy`), or ask the admin for clone on a file system '
                        'with reflinks')
        if mode == 'copy':
            self.add('link_mode', OK, 'copy (%s) for a venv in %s: %s' % (where, self.cwd, copy_note), **details)
        elif mode == 'symlink':
            self.add('link_mode', WARNING, 'symlink (%s): venvs in %s point into the cache' % (where, self.cwd),
                     cause='`uv cache clean` or `prune` breaks every venv installed that way',
                     fix='use copy (`export UV_LINK_MODE=copy`)', **details)
        elif not same_fs:
            self.add('link_mode', OK, '%s (%s) falls back to copy for a venv in %s: it is on another file system '
                     'than the cache %s; %s' % (mode, where, self.cwd, self.cache, copy_note), **details)
        elif mode == 'clone' and reflink:
            self.add('link_mode', OK, 'clone (%s) for a venv in %s: reflinks on the file system of the cache '
                     '(isolated, and no extra disk until a file changes)' % (where, self.cwd), **details)
        else:
            fell = ' (no reflinks on this file system, so clone falls back to hardlink)' if mode == 'clone' else ''
            self.add('link_mode', WARNING, '%s (%s) for a venv in %s hardlinks from the cache%s'
                     % (mode, where, self.cwd, fell), cause=hardlink, fix=hardlink_fix, **details)

    def check_maintenance(self):
        path = self.config.get('metrics_file') or DEFAULT_METRICS
        expected = bool(self.config.get('maintenance'))
        absent = WARNING if expected else OK
        text = read_head(path, 1 << 20, missing=None)
        if text is None:
            self.add('maintenance', absent, 'no maintenance job reports here (%s does not exist or is not readable):'
                     ' when the shared tree was last audited is unknown' % path,
                     cause='the maintenance job is on but has not written its metrics' if expected else None,
                     fix="tell the node's admin (the job's journal says why)" if expected else None, path=path)
            return
        try:
            samples = promparse.parse(text)
        except ValueError as exc:
            self.add('maintenance', WARNING, 'the maintenance metrics %s do not parse: %s' % (path, exc),
                     cause='the file is damaged', fix="tell the node's admin", path=path)
            return
        now = time.time()
        last_success = promparse.first(samples, 'uvfleet_maintenance_last_success_timestamp_seconds')
        last_run = promparse.first(samples, 'uvfleet_maintenance_last_run_timestamp_seconds')
        success = promparse.first(samples, 'uvfleet_maintenance_success')
        findings = {}
        for name, labels, value in samples:
            if name == 'uvfleet_perms_findings_remaining' and value > 0:
                key = '%s %s' % (labels.get('dir', '?'), labels.get('kind', '?'))
                findings[key] = findings.get(key, 0) + int(value)
        details = {'path': path, 'last_success': last_success, 'last_run': last_run, 'success': success,
                   'findings_remaining': findings}
        if success is not None and success < 1:
            self.add('maintenance', WARNING, 'the last maintenance run (%s) failed; last success: %s'
                     % (ago(last_run, now), ago(last_success, now)),
                     cause='the job that audits and repairs the shared tree did not finish',
                     fix="tell the node's admin (the job's journal says why)", **details)
        elif findings:
            self.add('maintenance', WARNING, 'the last audit (%s) left %d findings: %s' % (
                ago(last_run or last_success, now), sum(findings.values()),
                ', '.join('%s x%d' % item for item in sorted(findings.items()))),
                cause='entries the repair could not fix safely', fix="tell the node's admin (`uvfleet audit`)",
                **details)
        elif last_success is None:
            self.add('maintenance', WARNING, 'the maintenance metrics %s have no successful run yet' % path,
                     cause='the job has not succeeded once', fix="tell the node's admin", **details)
        elif now - last_success > STALE_SECONDS:
            self.add('maintenance', WARNING, 'the last successful maintenance run was %s' % ago(last_success, now),
                     cause='the job has stopped running or keeps failing', fix="tell the node's admin", **details)
        else:
            self.add('maintenance', OK, 'the shared tree was last audited and repaired %s: clean'
                     % ago(last_success, now), **details)

    def run(self):
        started = time.monotonic()
        self.check_config()
        self.check_group()
        self.check_uv()
        self.run_uv()
        self.check_cache_dir()
        self.check_env_dir('python')
        self.check_env_dir('tool')
        self.check_cache_access()
        self.check_group_usable()
        self.check_lost_acls()
        self.check_env_dir_access('python')
        self.check_env_dir_access('tool')
        self.check_link_mode()
        self.check_maintenance()
        problems = sum(1 for c in self.checks if c.status == PROBLEM)
        warnings = sum(1 for c in self.checks if c.status == WARNING)
        return {
            'user': self.user, 'uid': self.uid, 'cwd': self.cwd, 'group': self.config.get('group'),
            'uv': self.uv, 'cache': self.cache, 'problems': problems, 'warnings': warnings,
            'ok': problems == 0, 'exit': 1 if problems else 0,
            'seconds': round(time.monotonic() - started, 3),
            'checks': [c.as_dict() for c in self.checks],
        }


# -------------------------------------------------------------------- small helpers

CONTAINER_MARKERS = ('/run/.containerenv', '/.dockerenv')


def in_container(environ):
    """True in a container: a runtime's marker file, or `container` in the environment (podman, systemd-nspawn)."""
    return bool(environ.get('container')) or any(os.path.exists(path) for path in CONTAINER_MARKERS)


def numeric_start(environ):
    """True when this process was started as a numeric user (`--user UID:GID`), without initgroups.

    A login (sshd, login, su -, runuser -l, cron, systemd's User=) calls initgroups, which
    puts at least the primary group into the list; a container runtime started with a
    numeric uid:gid sets an empty one, or only that gid (podman, which also sets
    `container` in the environment).
    """
    groups = set(os.getgroups())
    return not groups or bool(environ.get('container')) and groups <= set((os.getgid(), os.getegid()))


def numeric_start_advice(user, name, gid):
    """(summary, cause, fix) for a member whose process was started without supplementary groups."""
    summary = ('this process has no supplementary groups (started as a numeric user, e.g. a container\'s '
               '`--user UID:GID`): it lacks the group %s, which the group database gives %s' % (name, user))
    cause = ('a container runtime started with a numeric uid:gid (docker or podman `--user`, a Jenkins docker '
             'agent, Kubernetes runAsUser) sets only that gid and reads no /etc/group; a login would add %s' % name)
    fix = ('start the job with the group: `--group-add %s` (docker, podman; Jenkins: args \'--group-add %s\'; '
           'GitHub Actions: options: --group-add %s), Kubernetes securityContext supplementalGroups: [%d] or '
           'runAsGroup: %d, or the user by name (`--user %s`); or build the image with %s as the CI user\'s '
           'primary group (docs/images.md)' % (gid, gid, gid, gid, gid, user, name))
    return summary, cause, fix


def which(name, path):
    for directory in path.split(os.pathsep):
        candidate = os.path.join(directory or '.', name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    return None


def uv_error(stderr, code):
    """uv's error in one line: its error/cause lines and the last message, without the TOML excerpt."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    kept = [line for line in lines if re.match(r'(error|cause|caused by)\b', line, re.I)]
    if lines and lines[-1] not in kept:
        kept.append(lines[-1])
    return ' / '.join(kept[:4]) or 'exit status %d' % code


def read_head(path, size, missing=''):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, 'O_CLOEXEC', 0))
    except OSError:
        return missing
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return missing
        return os.read(fd, size).decode('utf-8', 'replace')
    except OSError:
        return missing
    finally:
        os.close(fd)


def is_wrapper(path):
    """True when path is a shared wrapper: its second line carries the role's marker."""
    return WRAPPER_MARKER in '\n'.join(read_head(path, 512).splitlines()[:2])


def same_path(a, b):
    if not a or not b:
        return False
    return os.path.normpath(a) == os.path.normpath(b) or os.path.realpath(a) == os.path.realpath(b)


def nearest_existing(path):
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def try_flock(fd, operation=fcntl.LOCK_SH | fcntl.LOCK_NB):
    """None when the lock was taken (and released), else the errno."""
    try:
        fcntl.flock(fd, operation)
    except OSError as exc:
        return exc.errno
    fcntl.flock(fd, fcntl.LOCK_UN)
    return None


def lock_holder(st):
    """'pid N (command, user U)' of the process holding a lock on the inode of st, from /proc/locks."""
    text = read_head('/proc/locks', 1 << 20)
    inode = str(st.st_ino)
    exact = '%02x:%02x:%s' % (os.major(st.st_dev), os.minor(st.st_dev), inode)
    candidates = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 6 or '->' in fields[1] or fields[3] != 'WRITE':
            continue
        where = fields[5]
        if where == exact:
            candidates.insert(0, fields[4])
        elif where.rsplit(':', 1)[-1] == inode:
            candidates.append(fields[4])
    if not candidates:
        return None
    pid = candidates[0]
    command = read_head('/proc/%s/cmdline' % pid, 4096).replace('\0', ' ').strip()
    try:
        owner = user_name(os.stat('/proc/%s' % pid).st_uid)
    except OSError:
        owner = '?'
    if not command:
        return 'pid %s' % pid
    return 'pid %s (%s, user %s)' % (pid, command[:80], owner)


def find_foreign(root, uid):
    """(path, stat, error or None) of the first entry another user made, within a bounded scan; or None."""
    queue = [root]
    seen = 0
    fallback = None
    while queue and seen < READ_SCAN_ENTRIES:
        directory = queue.pop(0)
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            st = _lstat(directory)
            if st is not None and st.st_uid != uid:
                return directory, st, exc
            continue
        for entry in sorted(entries, key=lambda e: e.name)[:READ_SCAN_ENTRIES]:
            seen += 1
            if entry.name.startswith('.tmp') or entry.name.endswith('.lock'):
                continue
            st = _lstat(entry.path)
            if st is None or stat.S_ISLNK(st.st_mode):
                continue
            if stat.S_ISDIR(st.st_mode):
                queue.append(entry.path)
                if st.st_uid != uid and not os.access(entry.path, os.R_OK | os.X_OK):
                    return entry.path, st, OSError(errno.EACCES, os.strerror(errno.EACCES))
            elif stat.S_ISREG(st.st_mode) and st.st_uid != uid:
                error = _read_one(entry.path)
                if st.st_uid != 0 or error is not None:
                    return entry.path, st, error
                fallback = fallback or (entry.path, st, None)
    return fallback


def _lstat(path):
    try:
        return os.lstat(path)
    except OSError:
        return None


def _read_one(path):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, 'O_CLOEXEC', 0))
    except OSError as exc:
        return exc
    try:
        os.read(fd, 1)
    except OSError as exc:
        return exc
    finally:
        os.close(fd)
    return None


def user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return 'uid %d' % uid


def group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return 'gid %d' % gid


def describe_owner(path):
    try:
        st = os.lstat(path)
    except OSError as exc:
        return 'not reachable (%s)' % exc.strerror
    return '%s:%s %s' % (user_name(st.st_uid), group_name(st.st_gid), mode_text(st.st_mode))


def mode_text(mode):
    return '%04o' % stat.S_IMODE(mode)


def fs_type(path):
    """The file system type of path, from /proc/self/mountinfo (longest mount point prefix)."""
    path = os.path.realpath(path)
    best, kind = '', 'unknown file system'
    for line in read_head('/proc/self/mountinfo', 1 << 20).splitlines():
        left, _sep, right = line.partition(' - ')
        fields = left.split()
        if len(fields) < 5 or not right:
            continue
        point = fields[4].replace('\\040', ' ')
        if (path == point or path.startswith(point.rstrip('/') + '/')) and len(point) >= len(best):
            best, kind = point, right.split()[0]
    return kind


def ago(timestamp, now):
    if timestamp is None:
        return 'never'
    seconds = max(0, int(now - timestamp))
    for unit, size in (('d', 86400), ('h', 3600), ('min', 60)):
        if seconds >= size:
            return '%d %s ago' % (seconds // size, unit)
    return '%d s ago' % seconds


# -------------------------------------------------------------------- output

def render(report):
    """The text report: one line per check (and its cause and fix), every field escaped (escape.py).

    Summaries, causes and fixes name files of the cache, the working directory and
    process names: places other members write. Escaped, a name with a newline or escape
    sequences stays inside its own field and never reaches the terminal raw.
    """
    lines = ['uvfleet doctor: %s (uid %s) in %s, group %s' % (
        printable(report['user']), report['uid'], printable(report['cwd']), printable(report['group'] or '-'))]
    for check in report['checks']:
        lines.append('%-8s %-14s %s' % (check['status'], check['name'], printable(check['summary'])))
        if check['status'] == OK:
            continue
        if check['details'].get('blocked_by'):
            lines.append('%24sfix:   as for %s' % ('', check['details']['blocked_by']))
            continue
        if check['cause']:
            lines.append('%24scause: %s' % ('', printable(check['cause'])))
        if check['fix']:
            lines.append('%24sfix:   %s' % ('', printable(check['fix'])))
    if report['problems']:
        lines.append('uv will fail for you here: %d problem(s) above; fix the first one first (%.2f s)'
                     % (report['problems'], report['seconds']))
    else:
        lines.append('uv will work for you here (%d warning(s); %.2f s)' % (report['warnings'], report['seconds']))
    return '\n'.join(lines) + '\n'


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description=HELP + '. Exit 0: uv will work for you; 1: a problem '
                                     'blocks it. Changes nothing but a temporary entry in the cache that it removes.')
    parser.add_argument('--json', action='store_true', help='one JSON object on stdout')
    parser.add_argument('--lock-wait', type=float, default=1.0, metavar='SECONDS',
                        help="how long to wait for uv's cache lock before calling it busy (default 1)")
    parser.add_argument('--uv-timeout', type=float, default=5.0, metavar='SECONDS',
                        help='how long uv may take to report its directories (default 5)')
    parser.add_argument('--config', default=None, metavar='PATH', help=argparse.SUPPRESS)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if os.geteuid() == 0:
        # root is held to none of the permissions the doctor checks, and root never reads,
        # probes or lists the members' trees on their behalf (docs/security.md)
        sys.stderr.write("%s: run it as the member whose uv fails, e.g. `runuser -l alice -c 'uvfleet doctor'`: it "
                         "checks what that user can do, and root is held to none of it\n" % PROG)
        return 2
    path = args.config or nodeconfig.DEFAULT_PATH
    try:
        config, error = nodeconfig.load(path), None
    except nodeconfig.ConfigError as exc:
        config, error = {}, str(exc)
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = os.environ.get('PWD') or '/'
    report = Doctor(config, os.environ, cwd, lock_wait=args.lock_wait, uv_timeout=args.uv_timeout,
                    config_error=error, config_path=path).run()
    sys.stdout.write(json.dumps(report, indent=2, sort_keys=True) + '\n' if args.json else render(report))
    return report['exit']
