# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where uv takes a setting from, for the doctor: which variable or ``uv.toml`` wins.

uv's order (0.13): the command line, then the environment variable, then the
configuration files.  Of the files uv reads either the one ``UV_CONFIG_FILE``
names, or none (``UV_NO_CONFIG``), or the project's (the nearest ``uv.toml``,
or ``pyproject.toml`` with a ``[tool.uv]`` table, upwards from the project
root, i.e. the nearest ``pyproject.toml`` with ``[project]``, else from the
current directory) before the user's (``$XDG_CONFIG_HOME/uv/uv.toml``, else
``~/.config/uv/uv.toml``) before the system's (the first
``$XDG_CONFIG_DIRS/*/uv/uv.toml``, else ``/etc/uv/uv.toml``).  ``uv tool``
commands skip the project file.

Files are read with a small line parser (top-level ``key = "string"`` in
``uv.toml``, the same under ``[tool.uv]`` in ``pyproject.toml``): stdlib only
on Python 3.8 (no tomllib), and enough to name the file that sets a key.  What
uv finally uses is what uv itself reports (the doctor runs it); this module
only explains it.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import re

from ..fs import fileio

SYSTEM_FILE = '/etc/uv/uv.toml'
MAX_FILE_BYTES = 1 << 20
# a string value: "basic" (JSON-like escapes) or 'literal'
_VALUE = re.compile(r'''^\s*("(?:[^"\\]|\\.)*"|'[^']*')\s*(?:#.*)?$''')
_TABLE = re.compile(r'^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$')


class Source(object):
    """Where a setting comes from: kind (env, config_file, project, user, system, default), where, value."""

    def __init__(self, kind, where, value=None):
        self.kind = kind
        self.where = where
        self.value = value

    def describe(self, key):
        """The setting as a member reads it, e.g. 'UV_CACHE_DIR=/x' or 'cache-dir in /home/bob/.config/uv/uv.toml'."""
        if self.kind == 'env':
            return '%s=%s' % (self.where, self.value)
        if self.kind == 'default':
            return "uv's built-in default"
        return '%s in %s' % (key, self.where)

    def as_dict(self):
        return {'kind': self.kind, 'where': self.where, 'value': self.value}


def _read(path):
    """Text of the regular file uv reads at path (at most MAX_FILE_BYTES), or None.

    uv follows a symlink to its configuration (a uv.toml kept with one's dotfiles), so
    the path is resolved first, as the member who runs the doctor (never root: the
    command refuses root), and what it leads to is read with ``fileio.read_small``.
    """
    try:
        return fileio.read_small(os.path.realpath(path), MAX_FILE_BYTES)[1].decode('utf-8', 'replace')
    except OSError:
        return None


def toml_string(text, key, table=None):
    """The string value of ``key`` in ``table`` (None: the top level) of a TOML text, or None."""
    current = None
    pattern = re.compile(r'^\s*(?:"%s"|%s)\s*=(.*)$' % (re.escape(key), re.escape(key)))
    for line in text.splitlines():
        header = _TABLE.match(line)
        if header:
            current = header.group(1).replace(' ', '').replace('"', '')
            continue
        if current != table:
            continue
        found = pattern.match(line)
        if not found:
            continue
        value = _VALUE.match(found.group(1))
        if not value:
            return found.group(1).strip()  # not a plain string (uv may reject it): show it as written
        raw = value.group(1)
        if raw.startswith("'"):
            return raw[1:-1]
        try:
            return json.loads(raw)
        except ValueError:
            return raw[1:-1]
    return None


def has_table(text, table):
    return any((m and m.group(1).replace(' ', '').replace('"', '') == table)
               for m in (_TABLE.match(line) for line in text.splitlines()))


def project_root(cwd):
    """The directory uv reads project settings from: the nearest project (pyproject.toml with [project])
    above cwd, whose own and parent files count, not those between it and cwd; else cwd itself."""
    path = os.path.abspath(cwd)
    while True:
        text = _read(os.path.join(path, 'pyproject.toml'))
        if text is not None and has_table(text, 'project'):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return os.path.abspath(cwd)
        path = parent


def project_file(cwd):
    """The project configuration uv reads for cwd: (path, table) or (None, None)."""
    path = project_root(cwd)
    while True:
        candidate = os.path.join(path, 'uv.toml')
        if os.path.isfile(candidate):
            return candidate, None
        text = _read(os.path.join(path, 'pyproject.toml'))
        if text is not None and has_table(text, 'tool.uv'):
            return os.path.join(path, 'pyproject.toml'), 'tool.uv'
        parent = os.path.dirname(path)
        if parent == path:
            return None, None
        path = parent


def user_file(environ, home):
    base = environ.get('XDG_CONFIG_HOME') or ''
    if not os.path.isabs(base):
        base = os.path.join(home, '.config')
    return os.path.join(base, 'uv', 'uv.toml')


def system_file(environ):
    """The system file uv reads: the first $XDG_CONFIG_DIRS/*/uv/uv.toml that exists, else /etc/uv/uv.toml."""
    for directory in (environ.get('XDG_CONFIG_DIRS') or '').split(':'):
        if not directory:
            break
        candidate = os.path.join(directory, 'uv', 'uv.toml')
        if os.path.isfile(candidate):
            return candidate
    return SYSTEM_FILE


def truthy(value):
    return (value or '').strip().lower() in ('1', 'true', 'yes', 'on', 'y', 't')


def config_files(environ, cwd, home, tool_command=False):
    """The files uv reads, highest precedence first: [(kind, path, table)]."""
    if environ.get('UV_CONFIG_FILE'):
        return [('config_file', environ['UV_CONFIG_FILE'], None)]
    if truthy(environ.get('UV_NO_CONFIG')) or truthy(environ.get('UV_ISOLATED')):
        return []
    files = []
    if not tool_command:
        path, table = project_file(cwd)
        if path:
            files.append(('project', path, table))
    files.append(('user', user_file(environ, home), None))
    files.append(('system', system_file(environ), None))
    return files


def source(key, env_var, environ, cwd, home, tool_command=False):
    """The Source that decides ``key`` (uv.toml name) / ``env_var``: the first of env, files, default."""
    if env_var and environ.get(env_var):
        return Source('env', env_var, environ[env_var])
    for kind, path, table in config_files(environ, cwd, home, tool_command):
        text = _read(path)
        if text is None:
            continue
        value = toml_string(text, key, table)
        if value is not None:
            return Source(kind, path, value)
    return Source('default', None)


def notes(environ, system_toml=SYSTEM_FILE):
    """Settings that change which files uv reads at all (each: (variable, sentence))."""
    found = []
    if environ.get('UV_CONFIG_FILE'):
        found.append(('UV_CONFIG_FILE', 'UV_CONFIG_FILE=%s makes uv read that file only, not %s'
                      % (environ['UV_CONFIG_FILE'], system_toml)))
    elif truthy(environ.get('UV_NO_CONFIG')):
        found.append(('UV_NO_CONFIG', 'UV_NO_CONFIG=%s makes uv ignore every uv.toml, %s included'
                      % (environ['UV_NO_CONFIG'], system_toml)))
    elif system_file(environ) != system_toml:
        found.append(('XDG_CONFIG_DIRS', 'XDG_CONFIG_DIRS=%s makes uv read %s instead of %s'
                      % (environ.get('XDG_CONFIG_DIRS'), system_file(environ), system_toml)))
    return found
