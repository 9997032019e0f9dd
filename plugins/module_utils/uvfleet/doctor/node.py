# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doctor's checks of the node: its configuration can be trusted, the member is in the shared group.

``config``: ``/etc/uvfleet/config.json`` (what the shared role set up) is there and
trusted; ``group``: the group exists, the group database lists this user, and this
session has it (a process keeps the groups it had at login).  A group problem is the
cause of every later permission problem: its fix is theirs too (``Diagnosis.access_fix``).
"""

from __future__ import absolute_import, division, print_function

import grp
import os

from .container import numeric_start, numeric_start_advice
from .report import OK, PROBLEM, WARNING


def check_config(doc):
    if doc.config_error:
        doc.add('config', PROBLEM, 'the node configuration cannot be trusted: %s' % doc.config_error,
                cause='uvfleet reads the shared directories and the group from %s' % doc.config_path,
                fix="ask the node's admin to rerun the uvfleet.uv.shared role, which rewrites it")
    elif not doc.config:
        doc.add('config', WARNING, 'no uvfleet configuration on this node (%s is missing)' % doc.config_path,
                cause='the uvfleet.uv.shared role has not set up this node, so there is no shared cache '
                'to check against',
                fix="ask the node's admin to apply the uvfleet.uv.shared role to this node")
    else:
        doc.add('config', OK, 'node configuration %s: group %s, shared cache %s' % (
            doc.config_path, doc.config.get('group') or '-', doc.config.get('cache_dir') or '-'))


def check_group(doc):
    name = doc.config.get('group')
    if not name:
        doc.add('group', OK, 'no shared group is configured on this node')
        return
    if doc.config.get('group_local', True):
        granter = "the node's admin (the uvfleet.uv.shared role, variable uv_shared_group_members)"
    else:
        granter = "the admin of your directory service (the group %s comes from it, not from this node)" % name
    try:
        group = grp.getgrnam(name)
    except KeyError:
        doc.group_fix = "ask %s to create the group %s, or to make it resolve on this node" % (granter, name)
        doc.group_reason = 'the group %s does not exist here' % name
        doc.add('group', PROBLEM, 'the shared group %s does not exist on this node' % name,
                cause='uv needs the group to enter the shared directories', fix=doc.group_fix)
        return
    doc.gid = group.gr_gid
    if doc.uid == 0:
        doc.add('group', WARNING, 'you are root: permissions do not apply to you',
                cause='the doctor answers for the user who runs it',
                fix='run `uvfleet doctor` as the member who has the problem (e.g. `sudo -iu NAME uvfleet doctor`)')
        return
    primary = doc.pw.pw_gid if doc.pw else os.getgid()
    try:
        in_db = group.gr_gid == primary or group.gr_gid in os.getgrouplist(doc.user, primary)
    except (OSError, TypeError):
        in_db = group.gr_gid == primary or doc.user in group.gr_mem
    in_session = group.gr_gid in os.getgroups() or group.gr_gid == os.getegid()
    details = {'group': name, 'gid': group.gr_gid, 'in_group_database': in_db, 'in_session': in_session}
    if in_db and in_session:
        doc.add('group', OK, '%s is a member of %s, and this session has the group' % (doc.user, name), **details)
    elif in_db and numeric_start(doc.environ):
        summary, cause, doc.group_fix = numeric_start_advice(doc.user, name, group.gr_gid)
        doc.group_reason = 'this process has no supplementary groups, so not %s' % name
        doc.add('group', PROBLEM, summary, cause=cause, fix=doc.group_fix, numeric_start=True, **details)
    elif in_db:
        doc.group_fix = 'log in again (a new ssh or desktop session), or run `newgrp %s` in this shell' % name
        doc.group_reason = 'this session does not have the group %s' % name
        doc.add('group', PROBLEM,
                '%s was added to %s after this session started: this session does not have the group yet'
                % (doc.user, name),
                cause='a process keeps the groups it had at login; the group database lists you, '
                'this session does not', fix=doc.group_fix, **details)
    elif in_session:
        doc.add('group', WARNING, 'this session has %s, but the group database no longer lists %s'
                % (name, doc.user),
                cause='you were removed from the group; your next login will not have it',
                fix='ask %s to add you again if you still need the shared cache' % granter, **details)
    else:
        doc.group_fix = 'ask %s to add %s to the group %s, then log in again' % (granter, doc.user, name)
        doc.group_reason = 'you are not a member of the group %s' % name
        doc.add('group', PROBLEM, '%s is not a member of the group %s, which the shared uv directories require'
                % (doc.user, name),
                cause='only members of %s may enter %s' % (name, doc.config.get('cache_dir') or 'them'),
                fix=doc.group_fix, **details)
