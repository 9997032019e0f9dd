# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The content check (``check.py``) and its repair (``quarantine.py``) in one call, and its metrics.

``run`` is what the module ``uvfleet.uv.cache_verify`` and ``uvfleet verify``
(``cmd/verify_cmd.py``) both call, with the same options; ``build_metrics`` the
node_exporter families (``uvfleet_content_*``) the command writes with --metrics-file.
"""

from __future__ import absolute_import, division, print_function

from . import check as content
from ..metrics import textfile as M
from . import quarantine

POOLS = ('process', 'thread')


def run(cache, repair=False, dry_run=False, quarantine_dir=None, workers=2, pool='process', max_samples=20,
        lock_timeout=quarantine.DEFAULT_LOCK_TIMEOUT):
    """Check ``cache``; with ``repair`` move its bad entries to the quarantine (``dry_run``: only say so)."""
    if pool not in POOLS:
        raise content.ContentError('pool must be one of %s, got %r' % (', '.join(POOLS), pool))
    result = content.check_cache(cache, workers=workers, pool=pool, max_samples=max_samples)
    mode = 'check' if repair and dry_run else ('repair' if repair else 'audit')
    result['mode'] = mode
    result['quarantine_dir'] = quarantine.default_dir(cache) if quarantine_dir is None else quarantine_dir
    moved = []
    if repair:
        moved = quarantine.quarantine(cache, result['bad_entries'], result['quarantine_dir'], dry_run=dry_run,
                                      lock_timeout=lock_timeout)
    result['quarantined'] = [m for m in moved if m['status'] == 'quarantined']
    result['would_quarantine'] = [m for m in moved if m['status'] == 'would_quarantine']
    done = set(m['entry'] for m in result['quarantined'])
    result['remaining'] = [b['entry'] for b in result['bad_entries'] if b['entry'] not in done]
    result['not_moved'] = [m for m in moved if m['status'] not in ('quarantined', 'would_quarantine')]
    result['changed'] = bool(result['quarantined'] or result['would_quarantine'])
    return result


def build_metrics(result, finished, duration):
    """The metric families of one content check (metrics.py); ``result`` None: the check could not run."""
    gauge = M.GAUGE
    fams = [
        M.Metric('uvfleet_content_check_last_run_timestamp_seconds', gauge,
                 'When the last uvfleet verify run that writes metrics ended (Unix time).').add(finished),
        M.Metric('uvfleet_content_check_success', gauge,
                 '1 when the last content check ran through (with or without findings), else 0.')
        .add(result is not None),
        M.Metric('uvfleet_content_check_duration_seconds', gauge,
                 'Duration of the last content check.').add(round(duration, 3)),
    ]
    if result is None:
        return fams
    counts = content.finding_counts(result)
    found = M.Metric('uvfleet_content_findings', gauge,
                     'Findings of the last content check by kind (every kind, zeros included; docs/content_check.md).')
    for kind, _class in content.KINDS:
        found.add(counts[kind], kind=kind, **{'class': content.KIND_CLASS[kind]})
    entries = M.Metric('uvfleet_content_entries', gauge,
                       'Unpacked distributions of the cache the last check looked at, by state.')
    entries.add(result['entries'], state='checked')
    entries.add(result['entries_bad'], state='bad')
    entries.add(result['entries_unverifiable'], state='unverifiable')
    files = M.Metric('uvfleet_content_files', gauge, 'Files of those distributions, by state.')
    files.add(result['files_verified'], state='verified')
    files.add(result['files_unverifiable'], state='unverifiable')
    fams += [found, entries, files,
             M.Metric('uvfleet_content_bytes_hashed', gauge, 'Bytes the last content check hashed.')
             .add(result['bytes_hashed']),
             M.Metric('uvfleet_content_entries_quarantined', gauge,
                      'Bad entries the last check moved to the quarantine (--repair).').add(counts['quarantined']),
             M.Metric('uvfleet_content_entries_remaining_bad', gauge,
                      'Bad entries still in the cache after the last check (alert on > 0).')
             .add(len(result['remaining']))]
    return fams
