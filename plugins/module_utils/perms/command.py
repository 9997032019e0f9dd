# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``uvfleet``: the one command on a node (``bin/uvfleet``, installed by the shared role).

    uvfleet audit  [OPTIONS] [PATH ...]   report what is wrong, change nothing
    uvfleet check  [OPTIONS] [PATH ...]   what a repair would change (dry run)
    uvfleet repair [OPTIONS] [PATH ...]   fix what is fixable and safe

``audit``/``check``/``repair`` take the engine's options (``cli.py``); without
``-g``/PATH they use the group and the shared directories of the node's
configuration (``nodeconfig.py``, written by the shared role).  Further
subcommands live in a file of their own each and are listed in ``SUBCOMMANDS``:
a subcommand module has ``HELP`` (one line) and ``main(argv) -> int``.
"""

from __future__ import absolute_import, division, print_function

import importlib
import sys

from . import nodeconfig

PROG = 'uvfleet'

# name -> (module of this package, or None for the engine's own modes)
SUBCOMMANDS = {
    'audit': None,
    'check': None,
    'repair': None,
    'doctor': 'doctor',
    'verify': 'verify',
    'maintain': 'maintain',
}
ENGINE_HELP = {
    'audit': 'report what is wrong in the shared directories, change nothing',
    'check': 'dry run of repair: report what it would change',
    'repair': 'fix group, modes and ACLs in the shared directories (as root)',
}


def _usage():
    lines = ['usage: %s COMMAND [OPTIONS]' % PROG, '', 'commands:']
    for name in sorted(SUBCOMMANDS):
        module = SUBCOMMANDS[name]
        text = ENGINE_HELP[name] if module is None else _load(name).HELP
        lines.append('  %-8s %s' % (name, text))
    lines.append('')
    lines.append('%s COMMAND --help shows the options of a command.' % PROG)
    return '\n'.join(lines) + '\n'


def _load(name):
    return importlib.import_module('.' + SUBCOMMANDS[name], __package__)


def _cli():
    # imported when used: `uvfleet doctor`, run by members, does not load the engine
    return importlib.import_module('.cli', __package__)


def engine_argv(mode, argv, config):
    """The engine command line for ``uvfleet MODE ARGV``, defaults taken from the node config."""
    argv = list(argv)
    if mode != 'audit':
        argv.insert(0, '--' + mode)
    if '--help' in argv or '-h' in argv:
        return argv
    try:
        parsed = _cli().build_parser(paths_required=False).parse_known_args(argv)[0]
    except SystemExit:
        return argv  # a usage error: the engine's parser reports it
    if parsed.group is None and config.get('group'):
        argv = ['--group', config['group']] + argv
    if config.get('acl') and not any(arg == '--acl' or arg.startswith('--acl=') for arg in argv):
        # the role's ACL decision (off in an image build, whose layers keep no ACLs)
        argv = ['--acl', config['acl']] + argv
    if not parsed.paths and config.get('managed_dirs'):
        # the role's policy: its exclusions, uv's lock files, links between the managed dirs
        argv.extend('--exclude=' + pattern for pattern in config.get('exclude', []))
        argv.extend('--exclude-lock=' + pattern for pattern in config.get('exclude_locks', []))
        argv.extend('--link-root=' + path for path in config['managed_dirs'])
        # the Python and tool dirs of the `managed` policy: root's, group read-only
        read_only = [path for path in config['managed_dirs'] if path in config.get('read_only_dirs', [])]
        argv.extend('--read-path=' + path for path in read_only)
        argv.append('--')
        argv.extend(path for path in config['managed_dirs'] if path not in read_only)
    return argv


def main(argv=None):
    """Run ``uvfleet``; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ('-h', '--help', 'help'):
        sys.stdout.write(_usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        sys.stderr.write('%s: unknown command %r\n%s' % (PROG, name, _usage()))
        return 2
    if SUBCOMMANDS[name] is not None:
        return _load(name).main(rest)
    try:
        config = nodeconfig.load()
    except nodeconfig.ConfigError as exc:
        sys.stderr.write('%s: %s\n' % (PROG, exc))
        return 2
    return _cli().main(engine_argv(name, rest, config), prog='%s %s' % (PROG, name))


if __name__ == '__main__':
    raise SystemExit(main())
