# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``uvfleet doctor``: why uv fails for the member who runs it, and the fix (``doctor/``): options, exit status.

One line per check, ``--json`` for scripts.  Exit 0 when uv will work for this user
(warnings included), 1 when a problem blocks it, 2 on a usage error or when run as root.
Light on purpose: members run it, and it loads neither the engine nor the content check.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import sys

from .. import nodeconfig
from ..doctor.diagnosis import Diagnosis
from ..doctor.report import render

HELP = 'for members: why uv fails for you on this node, and the fix (no root needed)'
PROG = 'uvfleet doctor'


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description=HELP + '. Exit 0: uv will work for you; 1: a problem '
                                     'blocks it. Changes nothing but a temporary entry in the cache that it removes.')
    parser.add_argument('--json', action='store_true', help='one JSON object on stdout')
    parser.add_argument('--lock-wait', type=float, default=1.0, metavar='SECONDS',
                        help="how long to wait for uv's cache lock before calling it busy (default 1)")
    parser.add_argument('--uv-timeout', type=float, default=5.0, metavar='SECONDS',
                        help='how long uv may take to report its directories (default 5)')
    parser.add_argument('--config', default=None, metavar='PATH', help=argparse.SUPPRESS)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if os.geteuid() == 0:
        # root is held to none of the permissions the doctor checks, and root never reads,
        # probes or lists the members' trees on their behalf (docs/security.md)
        sys.stderr.write("%s: run it as the member whose uv fails, e.g. `runuser -l alice -c 'uvfleet doctor'`: it "
                         "checks what that user can do, and root is held to none of it\n" % PROG)
        return 2
    path = args.config or nodeconfig.DEFAULT_PATH
    try:
        config, error = nodeconfig.load(path), None
    except nodeconfig.ConfigError as exc:
        config, error = {}, str(exc)
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = os.environ.get('PWD') or '/'
    report = Diagnosis(config, os.environ, cwd, lock_wait=args.lock_wait, uv_timeout=args.uv_timeout,
                       config_error=error, config_path=path).run()
    sys.stdout.write(json.dumps(report, indent=2, sort_keys=True) + '\n' if args.json else render(report))
    return report['exit']
