# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``uvfleet maintain``: the scheduled job (systemd timer or cron, as root): its options and exit status.

What one run does is ``maintain/job.py`` (repair each managed directory, prune the cache
as the worker account, measure it), what it reports ``maintain/report.py``.

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
import sys

from .. import nodeconfig
from ..escape import printable
from ..maintain import job
from ..maintain import report
from ..maintain.prune import DEFAULT_LOCK_TIMEOUT, PRUNE_CHOICES

HELP = 'the scheduled job (root): repair the shared directories, prune the cache, write metrics'
PROG = report.PROG


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
    parser.add_argument('--full', action='store_true',
                        help='check every entry of the managed directories in full (default: incremental, and a full '
                             'run every maintenance_full_every days)')
    parser.add_argument('--json', action='store_true', help='print the whole result as JSON after the summary line')
    return parser


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
    try:
        prune_mode, lock_timeout, jobs = job.settings(config, args.prune, args.lock_timeout, args.jobs)
    except ValueError as exc:
        sys.stderr.write('%s: %s\n' % (PROG, exc))
        return 2
    os.umask(job.umask(config))
    result = job.run(config, prune_mode, lock_timeout, jobs, args.full)
    metrics_file = config.get('metrics_file') if args.metrics_file is None else args.metrics_file
    if metrics_file:
        report.write_metrics(result, metrics_file)
    # names in the errors come from the shared directories, which members write (escape.py)
    sys.stdout.write(printable(report.summary(result)) + '\n')
    for error in result['errors']:
        sys.stderr.write('%s: %s\n' % (PROG, printable(error)))
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2, sort_keys=True) + '\n')
    return 0 if result['success'] else 1
