# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The content check (``check.py``) and its repair (``quarantine.py``) in one call, its summary and metrics.

``run`` is what the module ``uvfleet.uv.cache_verify`` and ``uvfleet verify``
(``cmd/verify_cmd.py``) both call, with the same options; ``summary_line`` the line
for a person or the journal; ``build_metrics`` the node_exporter families
(``uvfleet_content_*``) the command writes with --metrics-file.  The root-held record
of what each entry held when the check first saw it is ``record.py``; where the node
keeps it, ``record_dir_default``.
"""

from __future__ import absolute_import, division, print_function

from . import check as content
from . import quarantine
from . import record
from .. import nodeconfig
from ..escape import printable
from ..metrics import textfile as M

POOLS = ('process', 'thread')


def run(cache, repair=False, dry_run=False, quarantine_dir=None, workers=2, pool='process', max_samples=20,
        lock_timeout=quarantine.DEFAULT_LOCK_TIMEOUT, record_dir=None, time_budget=content.DEFAULT_TIME_BUDGET,
        max_file_bytes=content.DEFAULT_MAX_FILE_BYTES, max_entry_bytes=content.DEFAULT_MAX_ENTRY_BYTES,
        max_entries=content.DEFAULT_MAX_ENTRIES):
    """Check ``cache``; with ``repair`` move its bad entries to the quarantine (``dry_run``: only say so).

    ``record_dir``: where the root-held record of the cache's entries lives (None:
    no record); ``dry_run`` compares with it and saves nothing.  The limits bound
    what the check costs (0: no bound); what they skip is in ``skipped``.
    """
    if pool not in POOLS:
        raise content.ContentError('pool must be one of %s, got %r' % (', '.join(POOLS), pool))
    limits = content.Limits(max_file_bytes=max_file_bytes, max_entry_bytes=max_entry_bytes, time_budget=time_budget,
                            max_entries=max_entries)
    result = content.check_cache(cache, workers=workers, pool=pool, max_samples=max_samples, limits=limits,
                                 record_dir=record_dir, record_write=not dry_run)
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
    recorded = result['record']['entries']
    result['changed'] = bool(result['quarantined'] or result['would_quarantine']
                             or recorded['first_seen'] or recorded['dropped'])
    return result


def summary_line(result, prog='uvfleet verify'):
    """One line for a person or the journal: state, counts, skips, the record, the bad entries (names escaped)."""
    state = 'BAD' if result['remaining'] else ('INCOMPLETE' if not result['complete'] else 'ok')
    parts = ['%d entries' % result['entries'], '%d bad' % result['entries_bad']]
    if result.get('quarantined'):
        parts.append('%d quarantined' % len(result['quarantined']))
    skipped = result['unchecked']
    files = dict((k, v) for k, v in skipped['files'].items() if v)
    entries = dict((k, v) for k, v in skipped['entries'].items() if v)
    if files or entries:
        parts.append('skipped: %s' % ', '.join(
            ['%d files (%s)' % (v, k) for k, v in sorted(files.items())]
            + ['%d entries (%s)' % (v, k) for k, v in sorted(entries.items())]))
    rec = result['record']
    if rec['state'] == record.OFF:
        parts.append('record: off')
    else:
        counts = rec['entries']
        parts.append('record %s%s: %d known, %d first seen, %d dropped' % (
            rec['state'], '' if rec['saved'] else ' (not saved)', counts['known'], counts['first_seen'],
            counts['dropped']))
    line = '%s: %s: %s' % (prog, state, '; '.join(parts))
    if result['remaining']:
        shown = result['remaining'][:10]
        line += '; bad: %s%s' % (', '.join(printable(name) for name in shown),
                                 ' ...' if len(result['remaining']) > len(shown) else '')
    return line


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
    not_looked_at = result['unchecked']['entries'].get(content.TIME_BUDGET, 0)
    entries.add(result['entries'] - not_looked_at, state='checked')
    entries.add(result['entries_bad'], state='bad')
    entries.add(result['entries_unverifiable'], state='unverifiable')
    entries.add(sum(result['unchecked']['entries'].values()), state='skipped')
    files = M.Metric('uvfleet_content_files', gauge, 'Files of those distributions, by state.')
    files.add(result['files_verified'], state='verified')
    files.add(result['files_unverifiable'], state='unverifiable')
    files.add(result['files_matched_record'], state='matched_record')
    skipped = result['unchecked']
    skipped_files = M.Metric('uvfleet_content_skipped_files', gauge,
                             'Files the last content check did not hash, by reason (a limit, the time budget).')
    for reason, count in sorted(skipped['files'].items()):
        skipped_files.add(count, reason=reason)
    skipped_entries = M.Metric('uvfleet_content_skipped_entries', gauge,
                               'Entries the last content check did not look at, by reason.')
    for reason, count in sorted(skipped['entries'].items()):
        skipped_entries.add(count, reason=reason)
    rec = result['record']
    recorded = M.Metric('uvfleet_content_record_entries', gauge,
                        'Entries of the root-held record of the last check, by state (docs/content_check.md).')
    for state in ('known', 'first_seen', 'unrecorded', 'dropped', 'carried'):
        recorded.add(rec['entries'][state], state=state)
    fams += [found, entries, files,
             M.Metric('uvfleet_content_check_complete', gauge,
                      '1 when the last content check looked at every entry and hashed every file it had to, '
                      'else 0 (see uvfleet_content_skipped_*).').add(bool(result['complete'])),
             skipped_files, skipped_entries,
             M.Metric('uvfleet_content_skipped_bytes', gauge, 'Bytes of the files the last check did not hash.')
             .add(skipped['bytes']),
             recorded,
             M.Metric('uvfleet_content_record_saved', gauge,
                      '1 when the last check compared with the root-held record and saved it, else 0.')
             .add(bool(rec['saved'])),
             M.Metric('uvfleet_content_record_reset', gauge,
                      '1 when the root-held record was unusable and started afresh (every entry seen anew).')
             .add(rec['state'] == record.RESET),
             M.Metric('uvfleet_content_bytes_hashed', gauge, 'Bytes the last content check hashed.')
             .add(result['bytes_hashed']),
             M.Metric('uvfleet_content_entries_quarantined', gauge,
                      'Bad entries the last check moved to the quarantine (--repair).').add(counts['quarantined']),
             M.Metric('uvfleet_content_entries_remaining_bad', gauge,
                      'Bad entries still in the cache after the last check (alert on > 0).')
             .add(len(result['remaining']))]
    return fams


def record_dir_default(config=None):
    """The record directory of the node (its configuration's content_record_dir), else record.DEFAULT_DIR."""
    if config is None:
        try:
            config = nodeconfig.load()
        except nodeconfig.ConfigError:
            config = {}
    return config.get('content_record_dir') or record.DEFAULT_DIR
