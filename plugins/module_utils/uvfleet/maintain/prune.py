# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``uv cache prune`` for the scheduled job: through uv's cache lock, as the worker account, never as root.

uv's own ``uv cache prune`` (``--ci`` with ``--prune ci``) takes uv's cache lock
exclusively and waits at most ``UV_LOCK_TIMEOUT`` seconds for running uv commands (a
``uv run`` or ``uvx`` holds the lock for as long as it runs).  A lock timeout skips the
prune for this round: it is reported as ``skipped``, not as a failure.  uv removes by
path and follows a directory a member swaps for a symlink while it runs, so the prune
never runs as root: it runs as the worker account of the node's configuration
(``privsep.py``), which can remove in the cache what any member can and nothing else.
The uv run is the node's real uv, checked: root-owned and writable by root only.
"""

from __future__ import absolute_import, division, print_function

import os
import re
import subprocess
import time

from .. import privsep, rootexec
from ..perms.errors import PermsError
from ..perms.groups import resolve_group

PRUNE_CHOICES = ('off', 'normal', 'ci')
PRUNE_OUTCOMES = ('pruned', 'skipped', 'failed', 'off')
DEFAULT_LOCK_TIMEOUT = 300
#: seconds a prune may take once it has the lock, before it is killed
PRUNE_RUN_LIMIT = 3600
#: uv's message when UV_LOCK_TIMEOUT expires ("Timeout (30s) when waiting for lock on ...")
_LOCK_TIMEOUT_TEXT = 'when waiting for lock'
_REMOVED = re.compile(r'Removed (\d+) files?')
_UV_ENV = {'PATH': '/usr/sbin:/usr/bin:/sbin:/bin', 'HOME': '/nonexistent', 'NO_COLOR': '1', 'UV_NO_PROGRESS': '1'}


def _uv_binary(config):
    """The real uv of the node, checked as everything root runs is (rootexec.py): only root can change it."""
    real_dir = config.get('real_bin_dir') or '/usr/local/lib/uvfleet/bin'
    try:
        return rootexec.check_executable(os.path.join(real_dir, 'uv'))
    except rootexec.UntrustedExecutable as exc:
        raise PermsError('%s; install uv with uvfleet.uv.install' % exc)


def prune(config, mode, lock_timeout):
    """Run uv cache prune through uv's cache lock; a dict with outcome pruned|skipped|failed|off."""
    out = {'outcome': 'off', 'detail': '', 'duration': 0.0, 'removed_files': None, 'lock_timeout': lock_timeout}
    cache = config.get('cache_dir')
    if mode == 'off':
        out['detail'] = 'prune is off'
        return out
    if not cache or cache not in (config.get('managed_dirs') or ()):
        out['detail'] = 'this node does not manage the cache'
        return out
    start = time.time()
    try:
        uv = _uv_binary(config)
        worker = privsep.worker(config.get('worker_user'), resolve_group(config.get('group'))[0])
    except (PermsError, privsep.PrivsepError) as exc:
        out.update(outcome='failed', detail=str(exc))
        return out
    out['user'] = worker.name
    argv = [uv, 'cache', 'prune', '--no-config', '--cache-dir', cache] + (['--ci'] if mode == 'ci' else [])
    env = dict(_UV_ENV, UV_LOCK_TIMEOUT=str(lock_timeout))
    try:
        # pylint: disable-next=ansible-bad-function  # the node command, not a module: no run_command
        proc = subprocess.Popen(argv, env=env, cwd='/', stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, preexec_fn=worker.demote())
    except OSError as exc:
        out.update(outcome='failed', detail='cannot run %s: %s' % (uv, exc.strerror), duration=time.time() - start)
        return out
    try:
        stdout, stderr = proc.communicate(timeout=lock_timeout + PRUNE_RUN_LIMIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        out.update(outcome='failed', detail='uv cache prune still running after %d s: killed'
                   % (lock_timeout + PRUNE_RUN_LIMIT), duration=time.time() - start)
        return out
    out['duration'] = time.time() - start
    text = (stderr + stdout).decode('utf-8', 'replace')
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    last = lines[-1] if lines else ''
    if proc.returncode == 0:
        match = _REMOVED.search(text)
        out.update(outcome='pruned', detail=last, removed_files=int(match.group(1)) if match else 0)
    elif _LOCK_TIMEOUT_TEXT in text:
        out.update(outcome='skipped', detail='the cache lock stayed busy for %d s (UV_LOCK_TIMEOUT): a uv command '
                   'is running; prune skipped this round (%s)' % (lock_timeout, last))
    else:
        out.update(outcome='failed', detail='uv cache prune exited %d: %s' % (proc.returncode, last))
    return out
