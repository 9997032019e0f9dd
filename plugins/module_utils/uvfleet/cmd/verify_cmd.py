# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``uvfleet verify``: the content check of the cache and its repair, from the node's command line.

    uvfleet verify [--check|--repair] [--quarantine-dir DIR] [-j N] [--metrics-file F] [CACHE]

Without CACHE it checks the node's cache (``cache_dir`` of the node's
configuration).  Prints the JSON report.  Exit status: 0 done (and with
--fail-on-findings nothing bad remains), 1 bad entries remain and
--fail-on-findings was given, or the metrics could not be written, 2 usage
error or the check cannot run.  With --metrics-file it also writes a
node_exporter textfile (``uvfleet_content_*``; the role's content-check timer
runs it so, on its own schedule).  The check is ``content/verify.py``.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import sys
import time

from .. import nodeconfig
from ..content import check as content
from ..content import quarantine
from ..content.verify import POOLS, build_metrics, run
from ..metrics import textfile

HELP = 'check unpacked wheels in the cache against their RECORD; --repair quarantines bad ones'


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
    if cache is None:
        try:
            cache = nodeconfig.load().get('cache_dir')
        except nodeconfig.ConfigError as exc:
            sys.stderr.write('%s: %s\n' % (prog, exc))
            return 2
        if not cache:
            sys.stderr.write('%s: no CACHE given and no cache_dir in %s; give the cache, e.g. /var/cache/uv\n'
                             % (prog, nodeconfig.DEFAULT_PATH))
            return 2
    start = time.time()
    error = None
    try:
        result = run(cache, repair=args.repair or args.check, dry_run=args.check,
                     quarantine_dir=args.quarantine_dir, workers=args.jobs, pool=args.pool,
                     max_samples=args.max_samples, lock_timeout=args.lock_timeout)
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
        sys.stderr.write('%s: %s\n' % (prog, error))
        sys.stdout.write(json.dumps({'failed': True, 'msg': error}) + '\n')
        return 2
    failed = args.fail_on_findings and bool(result['remaining'])
    result['failed'] = failed
    if args.compact:
        sys.stdout.write(json.dumps(result, separators=(',', ':')) + '\n')
    else:
        sys.stdout.write(json.dumps(result, indent=2) + '\n')
    return 1 if failed else status


if __name__ == '__main__':
    raise SystemExit(main())
