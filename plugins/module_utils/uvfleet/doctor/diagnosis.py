# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why uv fails for the member who runs the doctor, and the fix: the checks in order, and what they found.

Run by any user, without root, in the directory where they use uv.  One check per
line (ok / warning / problem), the cause and the exact fix under every warning and
problem.  The checks, by subject: the node and the group (``node.py``), uv on PATH and
the directories it uses (``uv.py``), the cache (``cache.py``), the shared Python and
tool dirs (``envdirs.py``), the link mode (``linkmode.py``), the maintenance job
(``maintenance.py``).  Later checks use what earlier ones found (the attributes of
``Diagnosis``).

It changes nothing, except one temporary directory (``.tmp-uvfleet-doctor-*``, with
two small files) that it creates in the cache and removes again: that is how it learns
whether this user can write there, what the group gets on what this user creates,
whether flock works there and whether the file system clones.  It runs the ``uv``
this user runs (first on PATH) to learn the directories uv really uses, with a
timeout, and never waits longer than ``lock_wait`` for uv's cache lock.
docs/troubleshooting.md maps uv's error messages to these checks.
"""

from __future__ import absolute_import, division, print_function

import os
import pwd
import time

from .. import nodeconfig
from . import cache
from . import container
from . import envdirs
from . import linkmode
from . import maintenance
from . import node
from . import uv
from .report import PROBLEM, WARNING, Check


class Diagnosis(object):
    """One member in one directory: the checks, in order, and what each found for the next."""

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

    def add(self, *args, **kwargs):
        """Record one check (``report.Check``) and return it."""
        check = Check(*args, **kwargs)
        self.checks.append(check)
        return check

    def shared(self, key):
        """A shared directory of the node configuration, normalised (None: not configured)."""
        value = self.config.get(key) or ''
        return os.path.normpath(value) if value else None

    def access_fix(self, admin_fix):
        """The fix for a permission error: the group's when the group is the cause, else the admin's."""
        return self.group_fix or admin_fix

    def access_cause(self, what):
        """The cause of a permission error, naming the group problem when there is one."""
        if self.group_fix:
            return '%s, because %s (see the group check)' % (what, self.group_reason)
        return what

    def run(self):
        """Every check, in order; the JSON-able report (``exit``: 1 when a problem blocks uv, else 0)."""
        started = time.monotonic()
        node.check_config(self)
        node.check_group(self)
        uv.check_uv(self)
        uv.run_uv(self)
        uv.check_cache_dir(self)
        uv.check_env_dir(self, 'python')
        uv.check_env_dir(self, 'tool')
        cache.check_cache_access(self)
        cache.check_group_usable(self)
        container.check_lost_acls(self)
        envdirs.check_env_dir_access(self, 'python')
        envdirs.check_env_dir_access(self, 'tool')
        linkmode.check_link_mode(self)
        maintenance.check_maintenance(self)
        problems = sum(1 for c in self.checks if c.status == PROBLEM)
        warnings = sum(1 for c in self.checks if c.status == WARNING)
        return {
            'user': self.user, 'uid': self.uid, 'cwd': self.cwd, 'group': self.config.get('group'),
            'uv': self.uv, 'cache': self.cache, 'problems': problems, 'warnings': warnings,
            'ok': problems == 0, 'exit': 1 if problems else 0,
            'seconds': round(time.monotonic() - started, 3),
            'checks': [c.as_dict() for c in self.checks],
        }
