# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``uvfleet verify``: the content check (``content.py``) and its repair (``quarantine.py``).

    uvfleet verify [--check|--repair] [--quarantine-dir DIR] [-j N] [--metrics-file F]
                   [--record-dir DIR | --no-record] [--time-budget S] [--max-file-size N]
                   [--max-entry-size N] [--max-entries N] [CACHE]

Without CACHE it checks the node's cache (``cache_dir`` of the node's
configuration).  Prints the JSON report on stdout and one summary line on
stderr (names from the cache escaped).  Exit status: 0 done (and with
--fail-on-findings nothing bad remains), 1 bad entries remain and
--fail-on-findings was given, or the metrics could not be written, 2 usage
error or the check cannot run.  With --metrics-file it also writes a
node_exporter textfile (``uvfleet_content_*``; the role's content-check timer
runs it so, on its own schedule).  The root-held record of what each entry held
when the check first saw it (``record.py``) is kept in ``--record-dir``
(default: ``content_record_dir`` of the node's configuration, else
/var/lib/uvfleet/content).
The module ``uvfleet.uv.cache_verify`` calls ``run`` with the same options.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import sys
import time

from . import content
from . import metrics as M
from . import nodeconfig
from . import quarantine
from . import record
from .escape import printable

HELP = 'check unpacked wheels in the cache against their RECORD; --repair quarantines bad ones'
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


def _size(text):
    """A count or a byte size for the command line: digits, optionally K, M, G or T (powers of 1024)."""
    text = text.strip()
    scale = 1
    if text[-1:].upper() in _SUFFIX:
        scale = _SUFFIX[text[-1:].upper()]
        text = text[:-1]
    if not text.isdigit():
        raise argparse.ArgumentTypeError('%r is not a number (digits, optionally K, M, G or T)' % text)
    return int(text) * scale


_SUFFIX = {'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}


def record_dir_default(config=None):
    """The record directory of the node (its configuration's content_record_dir), else record.DEFAULT_DIR."""
    if config is None:
        try:
            config = nodeconfig.load()
        except nodeconfig.ConfigError:
            config = {}
    return config.get('content_record_dir') or record.DEFAULT_DIR


def build_parser(prog='uvfleet verify'):
    """The argparse parser of ``uvfleet verify``."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description='Compare every file of the unpacked distributions in a uv cache (archive-v0) with the sha256 '
                    'and size its RECORD lists; report missing, truncated, rewritten and planted files. '
                    'Reads every byte: off the default schedule. Never follows a symlink, never reads a fifo.')
    parser.add_argument('cache', nargs='?', metavar='CACHE',
                        help='the uv cache (default: cache_dir of /etc/uvfleet/config.json)')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--repair', action='store_true',
                      help='move bad entries to the quarantine directory (uv fetches them again)')
    mode.add_argument('--check', action='store_true', help='dry run of --repair: say what would move')
    parser.add_argument('--quarantine-dir', metavar='DIR',
                        help='root-only directory outside the cache, same file system (default: CACHE.quarantine)')
    parser.add_argument('-j', '--jobs', type=int, default=2, metavar='N', help='hashing workers (default 2)')
    parser.add_argument('--pool', choices=POOLS, default='process',
                        help='workers are forked processes (default) or threads')
    parser.add_argument('--max-samples', type=int, default=20, metavar='N', help='samples kept per kind (default 20)')
    parser.add_argument('--lock-timeout', type=int, default=quarantine.DEFAULT_LOCK_TIMEOUT, metavar='S',
                        help='--repair waits this long for running uv commands (the cache lock)')
    parser.add_argument('--record-dir', metavar='DIR',
                        help='root-only directory of the record of what each entry held when the check first saw it '
                             '(default: content_record_dir of the node configuration, else %s)' % record.DEFAULT_DIR)
    parser.add_argument('--no-record', action='store_true',
                        help='compare with RECORD only (a file rewritten together with its RECORD line passes)')
    parser.add_argument('--time-budget', type=_size, default=content.DEFAULT_TIME_BUDGET, metavar='S',
                        help='stop hashing after S seconds and report what was skipped (default %d; 0: no budget)'
                             % content.DEFAULT_TIME_BUDGET)
    parser.add_argument('--max-file-size', type=_size, default=content.DEFAULT_MAX_FILE_BYTES, metavar='N',
                        help='do not hash a file larger than N bytes (suffix K, M, G, T; default 16G; 0: no bound)')
    parser.add_argument('--max-entry-size', type=_size, default=content.DEFAULT_MAX_ENTRY_BYTES, metavar='N',
                        help='hash at most N bytes of one entry (default 64G; 0: no bound)')
    parser.add_argument('--max-entries', type=_size, default=content.DEFAULT_MAX_ENTRIES, metavar='N',
                        help='look at most at N names of archive-v0 (default %d; 0: no bound)'
                             % content.DEFAULT_MAX_ENTRIES)
    parser.add_argument('--fail-on-findings', action='store_true', help='exit 1 when bad entries remain')
    parser.add_argument('--metrics-file', metavar='PATH',
                        help='also write a node_exporter textfile (*.prom) with the counts (uvfleet_content_*)')
    parser.add_argument('--compact', action='store_true', help='one-line JSON')
    return parser


def main(argv=None, prog='uvfleet verify'):
    """Run ``uvfleet verify``; return the exit status."""
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    if args.jobs < 1 or args.max_samples < 0 or args.lock_timeout < 0:
        sys.stderr.write('%s: --jobs must be >= 1, --max-samples and --lock-timeout >= 0\n' % prog)
        return 2
    cache = args.cache
    config = None
    if cache is None:
        try:
            config = nodeconfig.load()
        except nodeconfig.ConfigError as exc:
            sys.stderr.write('%s: %s\n' % (prog, exc))
            return 2
        cache = config.get('cache_dir')
        if not cache:
            sys.stderr.write('%s: no CACHE given and no cache_dir in %s; give the cache, e.g. /var/cache/uv\n'
                             % (prog, nodeconfig.DEFAULT_PATH))
            return 2
    record_dir = None if args.no_record else (args.record_dir or record_dir_default(config))
    start = time.time()
    error = None
    try:
        result = run(cache, repair=args.repair or args.check, dry_run=args.check,
                     quarantine_dir=args.quarantine_dir, workers=args.jobs, pool=args.pool,
                     max_samples=args.max_samples, lock_timeout=args.lock_timeout, record_dir=record_dir,
                     time_budget=args.time_budget, max_file_bytes=args.max_file_size,
                     max_entry_bytes=args.max_entry_size, max_entries=args.max_entries)
    except (content.ContentError, quarantine.QuarantineError) as exc:
        result, error = None, str(exc)
    status = 0
    if args.metrics_file:
        try:
            end = time.time()
            M.write_textfile(args.metrics_file, M.render(build_metrics(result, end, end - start)))
        except (OSError, M.MetricsError) as exc:
            sys.stderr.write('%s: writing %s: %s\n' % (prog, args.metrics_file, getattr(exc, 'strerror', None) or exc))
            status = 1
    if result is None:
        sys.stderr.write('%s: %s\n' % (prog, printable(error)))
        sys.stdout.write(json.dumps({'failed': True, 'msg': error}) + '\n')
        return 2
    failed = args.fail_on_findings and bool(result['remaining'])
    result['failed'] = failed
    sys.stderr.write(summary_line(result, prog) + '\n')
    if args.compact:
        sys.stdout.write(json.dumps(result, separators=(',', ':')) + '\n')
    else:
        sys.stdout.write(json.dumps(result, indent=2) + '\n')
    return 1 if failed else status


if __name__ == '__main__':
    raise SystemExit(main())
