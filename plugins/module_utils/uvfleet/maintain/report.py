# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one maintenance run reports: the node_exporter textfile (``uvfleet_maintenance_*``,
``uvfleet_perms_*``, ``uvfleet_cache_*``) and the one summary line of the journal.

The metric families follow the node_exporter conventions (``metrics/textfile.py``); the
time of the last success is carried over from the previous textfile when this run failed.
"""

from __future__ import absolute_import, division, print_function

from ..metrics import textfile
from .prune import PRUNE_OUTCOMES

PROG = 'uvfleet maintain'


def build_metrics(result, last_success):
    """The metric families of one run (metrics.py)."""
    gauge = textfile.GAUGE
    now = result['finished']
    fams = [
        textfile.Metric('uvfleet_maintenance_last_run_timestamp_seconds', gauge,
                        'When the last uvfleet maintain run ended (Unix time).').add(now),
        textfile.Metric('uvfleet_maintenance_last_success_timestamp_seconds', gauge,
                        'When the last successful uvfleet maintain run ended (Unix time, 0 = never).')
        .add(now if result['success'] else (last_success or 0)),
        textfile.Metric('uvfleet_maintenance_success', gauge,
                        '1 when the last uvfleet maintain run succeeded (a skipped prune included), else 0.')
        .add(bool(result['success'])),
        textfile.Metric('uvfleet_maintenance_duration_seconds', gauge, 'Duration of the last uvfleet maintain run.')
        .add(round(result['duration'], 3)),
    ]
    ok = textfile.Metric('uvfleet_perms_repair_success', gauge,
                         '1 when the repair of a managed directory ran and every entry could be handled, else 0.')
    scanned = textfile.Metric('uvfleet_perms_entries_scanned', gauge, 'Entries the last repair scanned in a managed directory.')
    repaired = textfile.Metric('uvfleet_perms_entries_repaired', gauge,
                               'Entries the last repair changed in a managed directory.')
    duration = textfile.Metric('uvfleet_perms_repair_duration_seconds', gauge,
                               'Duration of the last repair of a managed directory.')
    found = textfile.Metric('uvfleet_perms_findings', gauge,
                            'Findings of the last repair before it acted, by managed directory and kind.')
    remaining = textfile.Metric('uvfleet_perms_findings_remaining', gauge,
                                'Findings left after the last repair, by managed directory and kind (no series: none).')
    incr = textfile.Metric('uvfleet_perms_repair_incremental', gauge,
                           '1 when the last repair of a managed directory was incremental (entries unchanged since '
                           'the last clean run kept their verdict), 0 when it was a full run.')
    in_full = textfile.Metric('uvfleet_perms_entries_checked_in_full', gauge,
                              'Entries the last repair of a managed directory checked in full (ACLs read).')
    unsafe = textfile.Metric('uvfleet_perms_unsafe_skipped', gauge,
                             'Entries the last repair left alone for safety (foreign hardlinks, swapped entries), by kind.')
    for entry in result['dirs']:
        d = entry['dir']
        ok.add(bool(entry['ok']), dir=d)
        scanned.add(entry['scanned'], dir=d)
        repaired.add(entry['repaired'], dir=d)
        incr.add(entry.get('run') == 'incremental', dir=d)
        in_full.add(entry.get('checked_in_full', 0), dir=d)
        duration.add(round(entry['duration'], 3), dir=d)
        for table, fam in ((entry['findings'], found), (entry['remaining'], remaining),
                           (entry['skipped_unsafe'], unsafe)):
            for kind in sorted(table):
                fam.add(table[kind], dir=d, kind=kind)
    fams += [ok, scanned, repaired, incr, in_full, duration, found, remaining, unsafe]
    pr = result['prune']
    outcome = textfile.Metric('uvfleet_cache_prune_outcome', gauge,
                              'Outcome of the last cache prune: 1 for the outcome it had (pruned, skipped: the cache '
                              'lock stayed busy, failed, off).')
    for name in PRUNE_OUTCOMES:
        outcome.add(pr['outcome'] == name, outcome=name)
    fams.append(outcome)
    fams.append(textfile.Metric('uvfleet_cache_prune_duration_seconds', gauge,
                                'Duration of the last cache prune, lock wait included.').add(round(pr['duration'], 3)))
    fams.append(textfile.Metric('uvfleet_cache_prune_lock_timeout_seconds', gauge,
                                'How long the prune waits for the cache lock (UV_LOCK_TIMEOUT).').add(pr['lock_timeout']))
    if pr['removed_files'] is not None:
        fams.append(textfile.Metric('uvfleet_cache_prune_removed_files', gauge,
                                    'Files the last cache prune removed.').add(pr['removed_files']))
    if result['cache']:
        fams.append(textfile.Metric('uvfleet_cache_size_bytes', gauge,
                                    'Bytes of the regular files in the shared cache after the last run.')
                    .add(result['cache']['size_bytes']))
        fams.append(textfile.Metric('uvfleet_cache_entries', gauge,
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
        parts.append('%s %s %d scanned %d checked in full %d repaired%s' % (
            entry['dir'], entry.get('run', 'full'), entry['scanned'], entry.get('checked_in_full', entry['scanned']),
            entry['repaired'], ' remaining: ' + left if left else ''))
    pr = result['prune']
    parts.append('prune %s (%s)' % (pr['outcome'], pr['detail']) if pr['detail'] else 'prune ' + pr['outcome'])
    if result['cache']:
        parts.append('cache %d bytes %d entries' % (result['cache']['size_bytes'], result['cache']['entries']))
    return '%s: %s in %.1f s; %s' % (PROG, 'ok' if result['success'] else 'FAILED', result['duration'], '; '.join(parts))


def write_metrics(result, path):
    """Write the run's textfile to path; a failure to write fails the run (recorded in ``result``)."""
    last = textfile.read_value(path, 'uvfleet_maintenance_last_success_timestamp_seconds')
    try:
        textfile.write_textfile(path, textfile.render(build_metrics(result, last)))
    except (OSError, textfile.MetricsError) as exc:
        result['errors'].append('writing %s: %s' % (path, getattr(exc, 'strerror', None) or exc))
        result['success'] = False
