# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``uvfleet maintain``: the scheduled job (systemd timer or cron, as root).

One run:

1. repairs each managed directory of the node's configuration with the role's
   policy (group, others none, group write, the role's ACL mode and
   exclusions), one ``engine.run`` per directory, so that one refused
   directory does not stop the others;
2. prunes the cache with uv's own ``uv cache prune`` (``--ci`` with
   ``--prune ci``), which takes uv's cache lock exclusively and waits at most
   ``UV_LOCK_TIMEOUT`` seconds for running uv commands (a ``uv run`` or ``uvx``
   holds the lock for as long as it runs).  A lock timeout skips the prune for
   this round: it is reported as ``skipped``, not as a failure.  uv removes by
   path and follows a directory a member swaps for a symlink while it runs, so
   the prune never runs as root: it runs as the worker account of the node's
   configuration (``privsep.py``), which can remove in the cache what any member
   can and nothing else;
3. measures the cache (bytes and entries, after the prune);
4. writes the node_exporter textfile (``metrics_file``; metrics.py) and prints
   one summary line (the journal's, under systemd).

Exit status: 0 the run succeeded (a skipped prune included), 1 it failed (a
directory refused or an entry the repair could not change, a failed prune, the
metrics not written), 2 usage or configuration error.  Remaining findings the
repair never changes (a planted symlink, a foreign hardlink) do not fail the
run: they are in ``uvfleet_perms_findings_remaining`` for the alerting.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import re
import stat
import subprocess
import sys
import time

from ..perms import engine
from ..perms import parallel as P
from ..metrics import textfile as M
from .. import nodeconfig
from .. import privsep
from ..perms.errors import PermsError
from ..perms.groups import resolve_group
from ..perms.kinds import ERROR
from ..fs import walk as W
from ..escape import printable

HELP = 'the scheduled job (root): repair the shared directories, prune the cache, write metrics'
PROG = 'uvfleet maintain'

PRUNE_CHOICES = ('off', 'normal', 'ci')
PRUNE_OUTCOMES = ('pruned', 'skipped', 'failed', 'off')
DEFAULT_LOCK_TIMEOUT = 300
#: seconds a prune may take once it has the lock, before it is killed
PRUNE_RUN_LIMIT = 3600
#: kinds that are there by design in directories whose symlinks leave the tree
#: uv's message when UV_LOCK_TIMEOUT expires ("Timeout (30s) when waiting for lock on ...")
_LOCK_TIMEOUT_TEXT = 'when waiting for lock'
_REMOVED = re.compile(r'Removed (\d+) files?')
_UV_ENV = {'PATH': '/usr/sbin:/usr/bin:/sbin:/bin', 'HOME': '/nonexistent', 'NO_COLOR': '1', 'UV_NO_PROGRESS': '1'}


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description=HELP + '. Defaults come from /etc/uvfleet/config.json.')
    parser.add_argument('--prune', choices=PRUNE_CHOICES, default=None,
                        help='off, normal (uv cache prune) or ci (uv cache prune --ci); default: maintenance_prune')
    parser.add_argument('--lock-timeout', type=int, default=None, metavar='SECONDS',
                        help='UV_LOCK_TIMEOUT for the prune: how long to wait for running uv commands '
                             '(default: maintenance_lock_timeout, else %d)' % DEFAULT_LOCK_TIMEOUT)
    parser.add_argument('--metrics-file', default=None, metavar='PATH',
                        help='node_exporter textfile to write (default: metrics_file); "" writes none')
    parser.add_argument('-j', '--jobs', default=None, metavar='N',
                        help='processes walking each directory: auto (the CPUs available, serial on small trees), '
                             '1 serial, or a number (default: maintenance_jobs, else auto)')
    parser.add_argument('--json', action='store_true', help='print the whole result as JSON after the summary line')
    return parser


def _uv_binary(config):
    """The real uv of the node, checked: root-owned and writable by root only (root runs it)."""
    real_dir = config.get('real_bin_dir') or '/usr/local/lib/uvfleet/bin'
    path = os.path.join(real_dir, 'uv')
    real = os.path.realpath(path)
    for candidate in (real, os.path.dirname(real)):
        try:
            st = os.stat(candidate)
        except OSError as exc:
            raise PermsError('cannot use %s: %s; install uv with uvfleet.uv.install' % (candidate, exc.strerror))
        if st.st_uid != 0 or st.st_mode & 0o022:
            raise PermsError('refusing to run %s as root: %s is not owned and writable by root only '
                                    '(uid %d, mode %04o)' % (path, candidate, st.st_uid, stat.S_IMODE(st.st_mode)))
    return real


def repair_dir(path, config, jobs):
    """Repair one managed directory; a dict for the metrics (``ok`` False when refused or an entry failed)."""
    start = time.time()
    out = {'dir': path, 'ok': False, 'error': None, 'scanned': 0, 'repaired': 0,
           'findings': {}, 'remaining': {}, 'skipped_unsafe': {}}
    # the role's policy for this dir: group read-only for the `managed` Python and tool dirs
    # (no exclusions there), uv's 0666 lock files left alone everywhere (members' uvx takes
    # the managed tool dir's), links between the managed dirs normal
    read_only = path in (config.get('read_only_dirs') or ())
    try:
        result = engine.run([path], config.get('group'), engine.Options(
            repair=True, others='none', group_access='read' if read_only else 'write', acl=config.get('acl') or 'auto',
            exclude=() if read_only else (config.get('exclude') or ()), exclude_locks=config.get('exclude_locks') or (),
            link_roots=config.get('managed_dirs') or (), max_samples=5, max_diff=0, jobs=jobs))
    except PermsError as exc:
        out['error'] = str(exc)
        out['duration'] = time.time() - start
        return out
    out.update(scanned=result['scanned'], repaired=result['entries_changed'], findings=result['findings'],
               skipped_unsafe=result['skipped_unsafe'], remaining=dict(result['remaining']))
    failed = out['remaining'].get(ERROR, 0)
    out['ok'] = not failed
    if failed:
        samples = [s['path'] + ': ' + s['current'] for s in result['samples'] if s['kind'] == ERROR]
        out['error'] = '%d entries could not be read or repaired, e.g. %s' % (failed, '; '.join(samples[:3]))
    out['duration'] = time.time() - start
    return out


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


def measure_cache(path):
    """(bytes of regular files, entries below the root) of the cache, on the engine's walk."""
    walker = W.Walker(path)
    size = 0
    seen = set()
    for event, _parent, _name, _rel, st, _extra in walker:
        if event == W.FILE:
            if st.st_nlink > 1:
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            size += st.st_size
    return size, max(0, walker.scanned - 1)


def run(config, prune_mode, lock_timeout, jobs):
    """One maintenance run; the JSON-able result (``success``, per-directory results, prune, cache)."""
    start = time.time()
    result = {'started': start, 'dirs': [], 'errors': [], 'cache': None}
    for path in config.get('managed_dirs') or ():
        entry = repair_dir(path, config, jobs)
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


def build_metrics(result, last_success):
    """The metric families of one run (metrics.py)."""
    gauge = M.GAUGE
    now = result['finished']
    fams = [
        M.Metric('uvfleet_maintenance_last_run_timestamp_seconds', gauge,
                 'When the last uvfleet maintain run ended (Unix time).').add(now),
        M.Metric('uvfleet_maintenance_last_success_timestamp_seconds', gauge,
                 'When the last successful uvfleet maintain run ended (Unix time, 0 = never).')
        .add(now if result['success'] else (last_success or 0)),
        M.Metric('uvfleet_maintenance_success', gauge,
                 '1 when the last uvfleet maintain run succeeded (a skipped prune included), else 0.')
        .add(bool(result['success'])),
        M.Metric('uvfleet_maintenance_duration_seconds', gauge, 'Duration of the last uvfleet maintain run.')
        .add(round(result['duration'], 3)),
    ]
    ok = M.Metric('uvfleet_perms_repair_success', gauge,
                  '1 when the repair of a managed directory ran and every entry could be handled, else 0.')
    scanned = M.Metric('uvfleet_perms_entries_scanned', gauge, 'Entries the last repair scanned in a managed directory.')
    repaired = M.Metric('uvfleet_perms_entries_repaired', gauge,
                        'Entries the last repair changed in a managed directory.')
    duration = M.Metric('uvfleet_perms_repair_duration_seconds', gauge,
                        'Duration of the last repair of a managed directory.')
    found = M.Metric('uvfleet_perms_findings', gauge,
                     'Findings of the last repair before it acted, by managed directory and kind.')
    remaining = M.Metric('uvfleet_perms_findings_remaining', gauge,
                         'Findings left after the last repair, by managed directory and kind (no series: none).')
    unsafe = M.Metric('uvfleet_perms_unsafe_skipped', gauge,
                      'Entries the last repair left alone for safety (foreign hardlinks, swapped entries), by kind.')
    for entry in result['dirs']:
        d = entry['dir']
        ok.add(bool(entry['ok']), dir=d)
        scanned.add(entry['scanned'], dir=d)
        repaired.add(entry['repaired'], dir=d)
        duration.add(round(entry['duration'], 3), dir=d)
        for table, fam in ((entry['findings'], found), (entry['remaining'], remaining),
                           (entry['skipped_unsafe'], unsafe)):
            for kind in sorted(table):
                fam.add(table[kind], dir=d, kind=kind)
    fams += [ok, scanned, repaired, duration, found, remaining, unsafe]
    pr = result['prune']
    outcome = M.Metric('uvfleet_cache_prune_outcome', gauge,
                       'Outcome of the last cache prune: 1 for the outcome it had (pruned, skipped: the cache '
                       'lock stayed busy, failed, off).')
    for name in PRUNE_OUTCOMES:
        outcome.add(pr['outcome'] == name, outcome=name)
    fams.append(outcome)
    fams.append(M.Metric('uvfleet_cache_prune_duration_seconds', gauge,
                         'Duration of the last cache prune, lock wait included.').add(round(pr['duration'], 3)))
    fams.append(M.Metric('uvfleet_cache_prune_lock_timeout_seconds', gauge,
                         'How long the prune waits for the cache lock (UV_LOCK_TIMEOUT).').add(pr['lock_timeout']))
    if pr['removed_files'] is not None:
        fams.append(M.Metric('uvfleet_cache_prune_removed_files', gauge,
                             'Files the last cache prune removed.').add(pr['removed_files']))
    if result['cache']:
        fams.append(M.Metric('uvfleet_cache_size_bytes', gauge,
                             'Bytes of the regular files in the shared cache after the last run.')
                    .add(result['cache']['size_bytes']))
        fams.append(M.Metric('uvfleet_cache_entries', gauge,
                             'Entries (files, directories, symlinks) in the shared cache after the last run.')
                    .add(result['cache']['entries']))
    return fams


def summary(result):
    """The one line per run for the journal."""
    parts = []
    for entry in result['dirs']:
        if entry['error'] and not entry['scanned']:
            parts.append('%s refused' % entry['dir'])
            continue
        left = ', '.join('%s %d' % kv for kv in sorted(entry['remaining'].items()))
        parts.append('%s %d scanned %d repaired%s' % (entry['dir'], entry['scanned'], entry['repaired'],
                                                      ' remaining: ' + left if left else ''))
    pr = result['prune']
    parts.append('prune %s (%s)' % (pr['outcome'], pr['detail']) if pr['detail'] else 'prune ' + pr['outcome'])
    if result['cache']:
        parts.append('cache %d bytes %d entries' % (result['cache']['size_bytes'], result['cache']['entries']))
    return '%s: %s in %.1f s; %s' % (PROG, 'ok' if result['success'] else 'FAILED', result['duration'], '; '.join(parts))


def main(argv=None):
    """Run ``uvfleet maintain``; return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    try:
        config = nodeconfig.load()
    except nodeconfig.ConfigError as exc:
        sys.stderr.write('%s: %s\n' % (PROG, exc))
        return 2
    if os.geteuid() != 0:
        sys.stderr.write('%s: run it as root (it repairs files of every member); members use uvfleet doctor\n' % PROG)
        return 2
    if not config.get('managed_dirs'):
        sys.stdout.write('%s: nothing to do: this node manages no shared directories (%s)\n'
                         % (PROG, nodeconfig.DEFAULT_PATH))
        return 0
    prune_mode = args.prune or config.get('maintenance_prune') or 'normal'
    lock_timeout = args.lock_timeout if args.lock_timeout is not None else \
        int(config.get('maintenance_lock_timeout', DEFAULT_LOCK_TIMEOUT))
    jobs = args.jobs if args.jobs is not None else config.get('maintenance_jobs', 'auto')
    try:
        P.resolve_jobs(jobs)  # a number of processes >= 1, or raises
        jobs_ok = True
    except P.ParallelError:
        jobs_ok = False
    if prune_mode not in PRUNE_CHOICES or lock_timeout < 0 or not jobs_ok:
        sys.stderr.write('%s: bad settings: prune %r, lock timeout %r, jobs %r\n' % (PROG, prune_mode, lock_timeout, jobs))
        return 2
    try:
        os.umask(int(str(config.get('fallback_umask') or '0007'), 8) | 0o002)
    except ValueError:
        os.umask(0o007)
    result = run(config, prune_mode, lock_timeout, jobs)
    metrics_file = config.get('metrics_file') if args.metrics_file is None else args.metrics_file
    if metrics_file:
        last = M.read_value(metrics_file, 'uvfleet_maintenance_last_success_timestamp_seconds')
        try:
            M.write_textfile(metrics_file, M.render(build_metrics(result, last)))
        except (OSError, M.MetricsError) as exc:
            result['errors'].append('writing %s: %s' % (metrics_file, getattr(exc, 'strerror', None) or exc))
            result['success'] = False
    # names in the errors come from the shared directories, which members write (escape.py)
    sys.stdout.write(printable(summary(result)) + '\n')
    for error in result['errors']:
        sys.stderr.write('%s: %s\n' % (PROG, printable(error)))
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2, sort_keys=True) + '\n')
    return 0 if result['success'] else 1
