# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doctor's checks of the shared Python and tool directories: can the member use them as the policy says.

``managed``: root's, read-only for the group (uvx still needs uv's .gitignore and a
writable .lock there); ``collaborative``: the member installs into them (uv takes
``.lock`` and works in ``.temp`` there).
"""

from __future__ import absolute_import, division, print_function

import os

from .probes import describe_owner, same_path
from .report import OK, PROBLEM, WARNING
from .uv import ENV_DIRS


def check_env_dir_access(doc, kind):
    key, env_var, label, policy_key, command, default = ENV_DIRS[kind]
    name = '%s_access' % kind
    shared = doc.shared(key)
    path = doc.reports.get(kind, (None, None))[0] or shared
    if not path:
        return
    if shared and not same_path(path, shared):
        doc.add(name, OK, 'not needed: %s is your own %s dir' % (path, label))
        return
    policy = doc.config.get(policy_key) or 'collaborative'
    if not os.path.isdir(path):
        doc.add(name, WARNING, 'the shared %s dir %s does not exist' % (label, path),
                cause='the role creates it', fix="ask the node's admin to rerun the uvfleet.uv.shared role")
        return
    if policy == 'managed':
        missing = uvx_blockers(path) if kind == 'tool' and os.access(path, os.R_OK | os.X_OK) else []
        if missing:
            doc.add(name, PROBLEM, '`uvx` would fail after its run: %s' % missing[0],
                    cause='uv writes %s/.gitignore the first time and takes %s/.lock; in the managed tool dir '
                    'only root can create them, so the role keeps both there' % (path, path),
                    fix="ask the node's admin to rerun the uvfleet.uv.shared role", policy=policy, blocked=missing)
        elif os.access(path, os.R_OK | os.X_OK):
            doc.add(name, OK, '%s is read-only by design (policy managed): the shared %ss are for you to use; '
                    'install into your own %s (e.g. `%s=%s %s ...`)' % (path, label, env_var, env_var, default,
                                                                        command), policy=policy)
        else:
            doc.add(name, PROBLEM, 'you cannot use the shared %s dir %s' % (label, path),
                    cause=doc.access_cause('it is %s' % describe_owner(path)),
                    fix=doc.access_fix("ask the node's admin to rerun the uvfleet.uv.shared role"), policy=policy)
        return
    blocked = []
    if not os.access(path, os.W_OK | os.X_OK):
        blocked.append('%s is not writable for you (%s)' % (path, describe_owner(path)))
    for entry, mode in (('.lock', os.W_OK), ('.temp', os.W_OK | os.X_OK)):
        full = os.path.join(path, entry)
        if os.path.lexists(full) and not os.access(full, mode):
            blocked.append('%s is not writable for you (%s)' % (full, describe_owner(full)))
    if not blocked:
        doc.add(name, OK, 'you can install into the shared %s dir %s (policy collaborative)' % (label, path),
                policy=policy)
        return
    doc.add(name, PROBLEM, '`%s` would fail: %s' % (command, blocked[0]),
            cause=doc.access_cause('uv takes %s/.lock and works in %s/.temp there' % (path, path)),
            fix=doc.access_fix("ask the node's admin to run `uvfleet repair` (it makes the group's "
                               "directories group-writable again)"),
            policy=policy, blocked=blocked)


def uvx_blockers(path):
    """What in a managed tool dir makes a member's uvx fail: uv's .gitignore missing, its .lock not writable."""
    out = []
    if not os.path.lexists(os.path.join(path, '.gitignore')):
        out.append('%s/.gitignore is missing' % path)
    lock = os.path.join(path, '.lock')
    if not os.path.lexists(lock):
        out.append('%s is missing' % lock)
    elif not os.access(lock, os.W_OK):
        out.append('%s is not writable for you (%s)' % (lock, describe_owner(lock)))
    return out
