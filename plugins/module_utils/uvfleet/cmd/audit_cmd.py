# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``uvfleet audit|check|repair``: the permission engine's command line (``main.py``, ``bin/uvfleet``).

Same options as the ``uvfleet.uv.cache_perms`` module; prints the JSON report
on stdout.  Exit status: 0 done (and, with --fail-on-findings, nothing
remains), 1 findings remain and --fail-on-findings was given, 2 usage error or
refused root/group/ACL requirement.

Unlike the module (which repairs by default), the command audits unless
``--repair`` is given.  ``uvfleet check`` and ``uvfleet repair`` are ``--check`` and
``--repair``; without ``-g``/PATH the node configuration's group, directories and
policy are added (``node_argvs``, ``nodeconfig.dir_policy``).
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import sys

from .. import nodeconfig
from ..perms import engine
from ..perms import incremental
from ..perms import report
from ..perms.errors import PermsError
from ..escape import printable
from ..perms.policy import ACL_CHOICES, GROUP_ACCESS_CHOICES, OTHERS_CHOICES


def _jobs(text):
    """argparse type of --jobs: an int >= 0, or 'auto' (= 0: the CPUs available, capped, serial on small trees)."""
    if text.strip().lower() == 'auto':
        return 'auto'
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('expected a number of processes or auto, got %r' % text)
    if value < 0:
        raise argparse.ArgumentTypeError('expected 0 (auto) or more, got %d' % value)
    return value


def build_parser(paths_required=True, prog='uvfleet audit'):
    """The argparse parser (exposed for the docs, the node command and tests)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description='Audit (default) or repair the group permissions and ACLs of a shared uv tree, '
                    'safely as root: never follows symlinks, changes entries only through verified fds, '
                    'stays on one file system, leaves hardlinks of non-members alone.')
    parser.add_argument('paths', nargs='+' if paths_required else '*', metavar='PATH',
                        help='root of a shared tree, e.g. /var/cache/uv')
    parser.add_argument('-g', '--group', required=paths_required, help='shared group: name or numeric GID')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--repair', action='store_true', help='fix what is fixable and safe (default: audit only)')
    mode.add_argument('--check', action='store_true',
                      help='dry run of --repair: report what a repair would change (would_fix), change nothing')
    parser.add_argument('--others', choices=OTHERS_CHOICES, default='none',
                        help='what others may have: none (default) or read (r and X)')
    parser.add_argument('--group-access', choices=GROUP_ACCESS_CHOICES, default='write',
                        help='write (default: group rwX) or read (read-only consumer tree: group r-X, no w)')
    parser.add_argument('--acl', choices=ACL_CHOICES, default='auto',
                        help='auto (default: use ACLs where the file system has them), required, off (mode bits only)')
    parser.add_argument('--exclude', action='append', default=[], metavar='GLOB',
                        help='leave alone paths (relative to the root) matching this fnmatch glob, and everything '
                             'below an excluded directory, except what an exclusion never hides (setuid/setgid, '
                             'world-writable directories, special files, named ACL entries of outsiders, links '
                             'leaving the tree); repeatable')
    parser.add_argument('--exclude-lock', action='append', default=[], metavar='GLOB', dest='exclude_locks',
                        help="uv's lock files: a path matching this glob is left alone only when it is a regular "
                             'file of mode 0666 (what uv makes), e.g. "*.lock"; repeatable')
    parser.add_argument('--acl-allow', action='append', default=[], metavar='PRINCIPAL', dest='acl_allow',
                        help='allow named ACL entries for this principal besides members of the group: user:NAME, '
                             'user:UID, group:NAME or group:GID; repeatable')
    parser.add_argument('--link-root', action='append', default=[], metavar='PATH', dest='link_roots',
                        help='another managed tree symlinks may point into without being symlink_outside (links '
                             'between the managed roots); repeatable')
    parser.add_argument('--read-path', action='append', default=[], metavar='PATH', dest='read_paths',
                        help='a further tree checked with --group-access read in the same run (the shared role\'s '
                             'managed Python and tool dirs); repeatable')
    parser.add_argument('--max-samples', type=int, default=20, metavar='N', help='samples in the report (default 20)')
    parser.add_argument('--check-file-acls', action='store_true',
                        help='kept for compatibility: the access ACL of every regular file is now always read where '
                             'ACLs are used (named entries do not show in the mode bits)')
    parser.add_argument('--fail-on-findings', action='store_true',
                        help='exit 1 when counted findings remain after the run')
    parser.add_argument('-j', '--jobs', type=_jobs, default='auto', metavar='N',
                        help='processes walking subtrees in parallel: auto (default, also 0) uses the CPUs '
                             'available (at most 8) once the walk has seen 10,000 entries; 1 walks serially; '
                             'see docs/benchmarks.md')
    parser.add_argument('--full', action='store_true',
                        help='check every entry in full; by default entries unchanged since the last clean run (by '
                             'their change time, against a watermark kept in %s) keep their verdict; the report '
                             'says which kind of run it was (run, runs) and why' % incremental.DEFAULT_STATE_DIR)
    parser.add_argument('--diff', action='store_true', help='include before/after lines of changed entries')
    parser.add_argument('--compact', action='store_true', help='one-line JSON')
    return parser


def node_argvs(mode, argv, config):
    """The command lines of ``uvfleet MODE ARGV`` (audit, check, repair), defaults from the node configuration.

    Without PATH: the managed dirs with the role's policy of each (``nodeconfig.dir_policy``), one
    command line per set of exclusions, lock globs and link roots (the engine applies those to a
    whole run), the read-only dirs of a run with group-writable ones as ``--read-path``.
    """
    argv = list(argv)
    if mode != 'audit':
        argv.insert(0, '--' + mode)
    if '--help' in argv or '-h' in argv:
        return [argv]
    try:
        parsed = build_parser(paths_required=False).parse_known_args(argv)[0]
    except SystemExit:
        return [argv]  # a usage error: the engine's parser reports it
    if parsed.group is None and config.get('group'):
        argv = ['--group', config['group']] + argv
    if config.get('acl') and not any(arg == '--acl' or arg.startswith('--acl=') for arg in argv):
        # the role's ACL decision (off in an image build, whose layers keep no ACLs)
        argv = ['--acl', config['acl']] + argv
    if parsed.paths or not config.get('managed_dirs'):
        return [argv]
    runs = []
    for path in config['managed_dirs']:
        policy = nodeconfig.dir_policy(config, path)
        key = (policy['exclude'], policy['exclude_locks'], policy['link_roots'])
        for run in runs:
            if run['key'] == key:
                break
        else:
            run = {'key': key, 'write': [], 'read': []}
            runs.append(run)
        run[policy['group_access']].append(path)
    argvs = []
    for run in runs:
        exclude, exclude_locks, link_roots = run['key']
        line = list(argv)
        line.extend('--exclude=' + pattern for pattern in exclude)
        line.extend('--exclude-lock=' + pattern for pattern in exclude_locks)
        line.extend('--link-root=' + path for path in link_roots)
        if run['write']:
            line.extend('--read-path=' + path for path in run['read'])
            line.append('--')
            line.extend(run['write'])
        else:
            line.extend(['--group-access', 'read', '--'] + run['read'])
        argvs.append(line)
    return argvs


def combined(results):
    """One report of several engine runs (the node command's runs over dirs of different policies)."""
    out = dict(results[0])
    for result in results[1:]:
        for key, value in result.items():
            mine = out.get(key)
            if key in ('mode', 'group') or mine is None:
                out.setdefault(key, value)
            elif isinstance(value, bool):
                out[key] = mine or value
            elif isinstance(value, (int, float)):
                out[key] = mine + value
            elif isinstance(value, list):
                out[key] = mine + value
            elif isinstance(value, dict):
                merged = dict(mine)
                for name, item in value.items():
                    if isinstance(item, str):
                        merged[name] = merged.get(name, '') + item
                    elif isinstance(item, int) and not isinstance(item, bool):
                        merged[name] = merged.get(name, 0) + item
                    else:
                        merged[name] = item
                out[key] = merged
    out['run'] = report.run_kind(out.get('runs') or ())
    return out


def node_main(mode, argv, config, prog):
    """``uvfleet MODE ARGV`` with the node configuration's defaults (``node_argvs``); one report."""
    argvs = node_argvs(mode, argv, config)
    if len(argvs) == 1:
        return main(argvs[0], prog=prog)
    results = []
    for line in argvs:
        code, result, args = _run(line, prog)
        if result is None:
            return code
        results.append(result)
    return _print(combined(results), args)


def _parse(argv, prog):
    """(exit code or None, args)."""
    parser = build_parser(prog=prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return (exc.code if isinstance(exc.code, int) else 2), None
    if args.max_samples < 0:
        sys.stderr.write('%s: --max-samples must be >= 0\n' % prog)
        return 2, None
    return None, args


def _run(argv, prog):
    """(exit code, engine result, parsed args) of one command line; the result None when it could not run."""
    code, args = _parse(argv, prog)
    if args is None:
        return code, None, None
    try:
        return 0, engine.run(args.paths, args.group, engine.Options(
            repair=args.repair or args.check, dry_run=args.check, others=args.others, group_access=args.group_access,
            acl=args.acl, exclude=args.exclude, exclude_locks=args.exclude_locks, acl_allow=args.acl_allow,
            link_roots=args.link_roots, read_paths=args.read_paths, max_samples=args.max_samples, jobs=args.jobs,
            full=args.full, state_dir=incremental.default_state_dir())), args
    except PermsError as exc:
        sys.stderr.write('%s: %s\n' % (prog, printable(exc)))
        sys.stdout.write(json.dumps({'failed': True, 'msg': str(exc)}) + '\n')
        return 2, None, args


def _print(result, args):
    """Print the report; the exit status."""
    if not args.diff:
        result.pop('diff', None)
    failed = args.fail_on_findings and result['failed_count'] > 0
    result['failed'] = bool(failed)
    if args.compact:
        sys.stdout.write(json.dumps(result, separators=(',', ':')) + '\n')
    else:
        sys.stdout.write(json.dumps(result, indent=2) + '\n')
    return 1 if failed else 0


def main(argv=None, prog='uvfleet audit'):
    """Run the command; return the exit status."""
    code, result, args = _run(argv, prog)
    if result is None:
        return code
    return _print(result, args)


if __name__ == '__main__':
    raise SystemExit(main())
