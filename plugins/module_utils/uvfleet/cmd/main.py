# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``uvfleet``: the one command on a node (``bin/uvfleet``, installed by the shared role).

    uvfleet audit  [OPTIONS] [PATH ...]   report what is wrong, change nothing
    uvfleet check  [OPTIONS] [PATH ...]   what a repair would change (dry run)
    uvfleet repair [OPTIONS] [PATH ...]   fix what is fixable and safe
    uvfleet doctor | verify | maintain ...

Each command is a file of this package (``SUBCOMMANDS``): its argument parsing and
exit status only, the work in the library.  ``audit``/``check``/``repair`` share
``audit_cmd.py`` (without ``-g``/PATH: the group and the shared directories of the
node's configuration, ``nodeconfig.py``); every other command module has ``HELP``
(one line) and ``main(argv) -> int``.  A command module is imported only when it
runs: ``uvfleet doctor``, run by members, loads neither the engine nor the content check.
"""

from __future__ import absolute_import, division, print_function

import importlib
import sys

from .. import nodeconfig

PROG = 'uvfleet'

# name -> the module of this package that runs it
SUBCOMMANDS = {
    'audit': 'audit_cmd',
    'check': 'audit_cmd',
    'repair': 'audit_cmd',
    'doctor': 'doctor_cmd',
    'verify': 'verify_cmd',
    'maintain': 'maintain_cmd',
}
ENGINE_HELP = {
    'audit': 'report what is wrong in the shared directories, change nothing',
    'check': 'dry run of repair: report what it would change',
    'repair': 'fix group, modes and ACLs in the shared directories (as root)',
}


def _usage():
    lines = ['usage: %s COMMAND [OPTIONS]' % PROG, '', 'commands:']
    for name in sorted(SUBCOMMANDS):
        text = ENGINE_HELP[name] if name in ENGINE_HELP else _load(name).HELP
        lines.append('  %-8s %s' % (name, text))
    lines.append('')
    lines.append('%s COMMAND --help shows the options of a command.' % PROG)
    return '\n'.join(lines) + '\n'


def _load(name):
    return importlib.import_module('.' + SUBCOMMANDS[name], __package__)


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
    if name not in ENGINE_HELP:
        return _load(name).main(rest)
    try:
        config = nodeconfig.load()
    except nodeconfig.ConfigError as exc:
        sys.stderr.write('%s: %s\n' % (PROG, exc))
        return 2
    command = _load(name)
    return command.node_main(name, rest, config, prog='%s %s' % (PROG, name))


if __name__ == '__main__':
    raise SystemExit(main())
