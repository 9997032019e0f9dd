# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doctor's checks of uv itself: the uv on the member's PATH and the directories it really uses.

``uv``: the shared wrapper comes first on PATH (or what bypasses it); ``run_uv`` asks
that uv for its cache, Python and tool directories (``uv cache dir``, ..., in
parallel, with a timeout); ``cache_dir``, ``python_dir``, ``tool_dir``: they are the
shared ones, or which variable or uv.toml moves uv away from them (``uvsettings.py``).
"""

from __future__ import absolute_import, division, print_function

import os
import re
import signal
import subprocess
import time

from . import uvsettings
from .probes import is_wrapper, read_head, same_path, uv_error, which
from .report import OK, PROBLEM, WARNING

# Where the uv of a check sets the environment-only setting, and what it is called there.
ENV_DIRS = {
    'python': ('python_install_dir', 'UV_PYTHON_INSTALL_DIR', 'Python', 'python_policy',
               'uv python install', '~/.local/share/uv/python'),
    'tool': ('tool_dir', 'UV_TOOL_DIR', 'tool', 'tool_policy', 'uv tool install', '~/.local/share/uv/tools'),
}


def check_uv(doc):
    wrapper = os.path.join(doc.config.get('wrapper_dir') or '/usr/local/bin', 'uv')
    found = which('uv', doc.environ.get('PATH', os.defpath))
    doc.uv = found
    if found is None:
        doc.uv = wrapper if is_wrapper(wrapper) else None
        fix = ('put %s on your PATH: `export PATH=%s:$PATH`' % (os.path.dirname(wrapper), os.path.dirname(wrapper))
               if doc.uv else "ask the node's admin to install uv (the uvfleet.uv.install and shared roles)")
        doc.add('uv', PROBLEM, 'there is no uv on your PATH', cause='PATH=%s' % doc.environ.get('PATH', ''),
                fix=fix)
    elif is_wrapper(found):
        doc.uv_is_wrapper = True
        doc.add('uv', OK, 'uv on your PATH is the shared wrapper %s' % found, path=found)
    else:
        fallback = doc.config.get('fallback')
        what = 'the environment-only settings (UV_PYTHON_INSTALL_DIR, UV_TOOL_DIR, ...)'
        if fallback:
            what += " and the group umask %s" % doc.config.get('fallback_umask', '0007')
        if is_wrapper(wrapper):
            fix = 'remove or rename %s, or put %s before %s in PATH (`export PATH=%s:$PATH`)' % (
                found, os.path.dirname(wrapper), os.path.dirname(found), os.path.dirname(wrapper))
        else:
            fix = "ask the node's admin to rerun the uvfleet.uv.shared role: the wrapper %s is missing" % wrapper
        doc.add('uv', WARNING, '%s comes first on your PATH and bypasses the shared wrapper %s' % (found, wrapper),
                cause='uv started that way misses %s that the wrapper sets' % what, fix=fix,
                path=found, wrapper=wrapper)
    if doc.uv and doc.uv_is_wrapper:
        doc.wrapper_text = read_head(os.path.realpath(doc.uv), 1 << 16)


def run_uv(doc):
    """`uv cache dir`, `uv python dir`, `uv tool dir` with the user's uv, in parallel, with a timeout."""
    if not doc.uv:
        return
    procs = {}
    for what in ('cache', 'python', 'tool'):
        try:
            # pylint: disable-next=ansible-bad-function  # the node command, not a module: no run_command
            procs[what] = subprocess.Popen([doc.uv, what, 'dir'], cwd=doc.cwd, env=doc.environ,
                                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, close_fds=True, start_new_session=True)
        except OSError as exc:
            doc.reports[what] = (None, 'cannot run %s: %s' % (doc.uv, exc.strerror))
    deadline = time.monotonic() + doc.uv_timeout
    for what, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=max(0.01, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.communicate()
            doc.reports[what] = (None, '`%s %s dir` did not answer within %g s' % (doc.uv, what, doc.uv_timeout))
            continue
        text = out.decode('utf-8', 'replace').strip()
        if proc.returncode == 0 and text:
            doc.reports[what] = (os.path.normpath(os.path.join(doc.cwd, text.splitlines()[-1])), None)
        else:
            doc.reports[what] = (None, uv_error(err.decode('utf-8', 'replace'), proc.returncode))


def uv_failed(doc, name, error):
    path = re.search(r'Failed to parse: `?([^`\s]+\.toml)', error)
    fix = ('fix or remove %s' % os.path.normpath(os.path.join(doc.cwd, path.group(1))) if path
           else 'run `uv %s dir` to see the whole error' % name)
    doc.add('%s_dir' % name, PROBLEM, 'uv fails before it does anything: %s' % error,
            cause='every uv command fails the same way', fix=fix)


def check_cache_dir(doc):
    shared = doc.shared('cache_dir')
    path, error = doc.reports.get('cache', (None, None))
    if error:
        uv_failed(doc, 'cache', error)
    if path is None:
        # no uv ran, or it failed (reported above): check the access to the shared cache all the same
        doc.cache = shared
        return
    doc.cache = path
    if not shared:
        doc.add('cache_dir', OK, 'uv caches in %s (no shared cache is configured here)' % path, path=path)
        return
    if same_path(path, shared):
        doc.add('cache_dir', OK, 'uv uses the shared cache %s' % path, path=path)
        return
    doc.add('cache_dir', WARNING, *override(doc, 'cache-dir', 'UV_CACHE_DIR', path, shared, 'cache'),
            path=path, shared=shared)


def override(doc, key, env_var, path, shared, what):
    """(summary, cause, fix) of a uv.toml setting that moves uv away from the shared setting."""
    env, cwd, home = doc.environ, doc.cwd, doc.home
    if what == 'cache' and uvsettings.truthy(env.get('UV_NO_CACHE')):
        source = uvsettings.Source('env', 'UV_NO_CACHE', env['UV_NO_CACHE'])
    else:
        source = uvsettings.source(key, env_var, env, cwd, home)
    system_toml = doc.config.get('uv_toml_path') or uvsettings.SYSTEM_FILE
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


def check_env_dir(doc, kind):
    key, env_var, label, _policy, _command, _default = ENV_DIRS[kind]
    shared = doc.shared(key)
    path, error = doc.reports.get(kind, (None, None))
    name = '%s_dir' % kind
    if error:
        if doc.reports.get('cache', (None, None))[1] != error:
            uv_failed(doc, kind, error)
        return
    if path is None:
        return
    if not shared:
        doc.add(name, OK, '%s dir %s (no shared one is configured here)' % (label, path), path=path)
    elif same_path(path, shared):
        doc.add(name, OK, 'uv uses the shared %s dir %s' % (label, path), path=path)
    elif doc.environ.get(env_var):
        status = OK if doc.config.get(ENV_DIRS[kind][3]) == 'managed' else WARNING
        doc.add(name, status, 'uv uses %s, not the shared %s dir %s: %s=%s overrides it'
                % (path, label, shared, env_var, doc.environ[env_var]),
                cause='a value you set beats the wrapper\'s default',
                fix=None if status == OK else 'unset %s to share %s installs with the group' % (env_var, label),
                path=path, shared=shared)
    elif not doc.uv_is_wrapper:
        doc.add(name, WARNING, 'uv uses %s, not the shared %s dir %s: your uv %s bypasses the wrapper'
                % (path, label, shared, doc.uv),
                cause='%s is environment-only (uv.toml cannot set it); the wrapper sets %s=%s'
                % (env_var, env_var, shared),
                fix='use the shared wrapper (see the uv check), or `export %s=%s`' % (env_var, shared),
                path=path, shared=shared)
    else:
        doc.add(name, WARNING, 'uv uses %s, not the shared %s dir %s' % (path, label, shared),
                cause='the wrapper %s does not set %s' % (doc.uv, env_var),
                fix="ask the node's admin to rerun the uvfleet.uv.shared role", path=path, shared=shared)
