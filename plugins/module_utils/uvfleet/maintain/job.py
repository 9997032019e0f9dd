# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The maintenance job (``uvfleet maintain``, the systemd timer or cron, as root): one run.

One run:

1. repairs each managed directory of the node's configuration with the role's
   policy for it (``nodeconfig.dir_policy``), one ``engine.run`` per directory, so that one refused
   directory does not stop the others; incremental (``perms/incremental.py``:
   what did not change since the last clean run keeps its verdict), and a full
   run every ``maintenance_full_every`` days (default 7) or with ``--full``;
2. prunes the cache with uv's own ``uv cache prune`` through uv's cache lock,
   as the worker account of the node's configuration, never as root (``prune.py``);
3. measures the cache (bytes and entries, after the prune);
4. (``report.py``) writes the node_exporter textfile (``metrics_file``) and the
   one summary line (the journal's, under systemd).

A run succeeds unless a directory is refused or an entry the repair could not
change, the prune failed, or the metrics could not be written.  Remaining
findings the repair never changes (a planted symlink, a foreign hardlink) do not
fail the run: they are in ``uvfleet_perms_findings_remaining`` for the alerting.
"""

from __future__ import absolute_import, division, print_function

import time

from .. import nodeconfig
from ..fs import walk
from ..perms import engine
from ..perms import incremental
from ..perms import parallel
from ..perms.errors import PermsError
from ..perms.kinds import ERROR
from .prune import DEFAULT_LOCK_TIMEOUT, PRUNE_CHOICES, prune

#: days after which the job's repair of a directory is a full run again (maintenance_full_every)
DEFAULT_FULL_EVERY = 7


def settings(config, prune_mode=None, lock_timeout=None, jobs=None):
    """(prune mode, lock timeout, jobs): those given (the command line), else the node configuration's.

    ValueError names them when one is not what the job can use.
    """
    prune_mode = prune_mode or config.get('maintenance_prune') or 'normal'
    if lock_timeout is None:
        lock_timeout = int(config.get('maintenance_lock_timeout', DEFAULT_LOCK_TIMEOUT))
    if jobs is None:
        jobs = config.get('maintenance_jobs', 'auto')
    try:
        parallel.resolve_jobs(jobs)  # a number of processes >= 1, or raises
        jobs_ok = True
    except parallel.ParallelError:
        jobs_ok = False
    if prune_mode not in PRUNE_CHOICES or lock_timeout < 0 or not jobs_ok:
        raise ValueError('bad settings: prune %r, lock timeout %r, jobs %r' % (prune_mode, lock_timeout, jobs))
    return prune_mode, lock_timeout, jobs


def umask(config):
    """The umask the job runs with: the node's fallback umask (never writable by others), else 0007."""
    try:
        return int(str(config.get('fallback_umask') or '0007'), 8) | 0o002
    except ValueError:
        return 0o007


def full_every(config):
    """Seconds after which the job's repair of a directory is a full run again (``maintenance_full_every`` days,
    default 7; 0: every run is full)."""
    try:
        days = float(config.get('maintenance_full_every', DEFAULT_FULL_EVERY))
    except (TypeError, ValueError):
        days = DEFAULT_FULL_EVERY
    return max(0.0, days) * 86400


def repair_dir(path, config, jobs, full=False):
    """Repair one managed directory; a dict for the metrics (``ok`` False when refused or an entry failed).

    Incremental (``perms/incremental.py``) unless ``full``, or the last full run of the
    directory is older than ``full_every``."""
    start = time.time()
    out = {'dir': path, 'ok': False, 'error': None, 'scanned': 0, 'repaired': 0, 'run': 'full', 'run_reason': '',
           'checked_in_full': 0, 'findings': {}, 'remaining': {}, 'skipped_unsafe': {}}
    try:
        result = engine.run([path], config.get('group'), engine.Options(
            repair=True, max_samples=5, max_diff=0, jobs=jobs, state_dir=incremental.default_state_dir(),
            full=full, full_every=full_every(config), **nodeconfig.dir_policy(config, path)))
    except PermsError as exc:
        out['error'] = str(exc)
        out['duration'] = time.time() - start
        return out
    out.update(scanned=result['scanned'], repaired=result['entries_changed'], findings=result['findings'],
               skipped_unsafe=result['skipped_unsafe'], remaining=dict(result['remaining']), run=result['run'],
               run_reason=result['runs'][0]['reason'] if result['runs'] else '', checked_in_full=result['checked_in_full'])
    failed = out['remaining'].get(ERROR, 0)
    out['ok'] = not failed
    if failed:
        samples = [s['path'] + ': ' + s['current'] for s in result['samples'] if s['kind'] == ERROR]
        out['error'] = '%d entries could not be read or repaired, e.g. %s' % (failed, '; '.join(samples[:3]))
    out['duration'] = time.time() - start
    return out


def measure_cache(path):
    """(bytes the regular files occupy on disk, entries below the root) of the cache, on the engine's walk.

    Allocated blocks, as ``du`` counts them, not the apparent size: a member's sparse
    file of 8 TiB occupies a few KiB and must not make the cache look full.
    """
    walker = walk.Walker(path)
    size = 0
    seen = set()
    for event, _parent, _name, _rel, st, _extra in walker:
        if event == walk.FILE:
            if st.st_nlink > 1:
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            size += st.st_blocks * 512
    return size, max(0, walker.scanned - 1)


def run(config, prune_mode, lock_timeout, jobs, full=False):
    """One maintenance run; the JSON-able result (``success``, per-directory results, prune, cache).

    ``full``: every directory checked in full (``uvfleet maintain --full``)."""
    start = time.time()
    result = {'started': start, 'dirs': [], 'errors': [], 'cache': None}
    for path in config.get('managed_dirs') or ():
        entry = repair_dir(path, config, jobs, full)
        result['dirs'].append(entry)
        if entry['error']:
            result['errors'].append('%s: %s' % (path, entry['error']))
    result['prune'] = prune(config, prune_mode, lock_timeout)
    if result['prune']['outcome'] == 'failed':
        result['errors'].append('prune: ' + result['prune']['detail'])
    cache = config.get('cache_dir')
    if cache and cache in (config.get('managed_dirs') or ()):
        try:
            size, entries = measure_cache(cache)
            result['cache'] = {'dir': cache, 'size_bytes': size, 'entries': entries}
        except OSError as exc:
            result['errors'].append('measuring %s: %s' % (cache, exc.strerror or exc))
    result['finished'] = time.time()
    result['duration'] = result['finished'] - start
    result['success'] = not result['errors']
    return result
