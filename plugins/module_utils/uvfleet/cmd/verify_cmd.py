# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``uvfleet verify``: the content check of the cache and its repair, from the node's command line.

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
when the check first saw it (``content/record.py``) is kept in ``--record-dir``
(default: ``content_record_dir`` of the node's configuration, else
/var/lib/uvfleet/content).  The check is ``content/verify.py``.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import sys
import time

from .. import nodeconfig
from ..content import check as content
from ..content import quarantine
from ..content import record
from ..content.verify import POOLS, build_metrics, record_dir_default, run, summary_line
from ..escape import printable
from ..metrics import textfile

HELP = 'check unpacked wheels in the cache against their RECORD; --repair quarantines bad ones'


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
            textfile.write_textfile(args.metrics_file, textfile.render(build_metrics(result, end, end - start)))
        except (OSError, textfile.MetricsError) as exc:
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
