# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doctor in a container (docs/images.md): a numeric start, an image that lost its ACLs.

A container started as a bare ``--user UID:GID`` has no supplementary groups, so a CI
user who is a member of the shared group only through ``/etc/group`` is not one in
that process (``check_group`` in node.py asks ``numeric_start``).  Image layers keep no
POSIX ACLs: where the role relied on default ACLs at build time, the image has none
(``check_lost_acls``).
"""

from __future__ import absolute_import, division, print_function

import os

from ..fs import acl
from .report import WARNING

CONTAINER_MARKERS = ('/run/.containerenv', '/.dockerenv')


def in_container(environ):
    """True in a container: a runtime's marker file, or `container` in the environment (podman, systemd-nspawn)."""
    return bool(environ.get('container')) or any(os.path.exists(path) for path in CONTAINER_MARKERS)


def numeric_start(environ):
    """True when this process was started as a numeric user (`--user UID:GID`), without initgroups.

    A login (sshd, login, su -, runuser -l, cron, systemd's User=) calls initgroups, which
    puts at least the primary group into the list; a container runtime started with a
    numeric uid:gid sets an empty one, or only that gid (podman, which also sets
    `container` in the environment).
    """
    groups = set(os.getgroups())
    return not groups or bool(environ.get('container')) and groups <= set((os.getgid(), os.getegid()))


def numeric_start_advice(user, name, gid):
    """(summary, cause, fix) for a member whose process was started without supplementary groups."""
    summary = ('this process has no supplementary groups (started as a numeric user, e.g. a container\'s '
               '`--user UID:GID`): it lacks the group %s, which the group database gives %s' % (name, user))
    cause = ('a container runtime started with a numeric uid:gid (docker or podman `--user`, a Jenkins docker '
             'agent, Kubernetes runAsUser) sets only that gid and reads no /etc/group; a login would add %s' % name)
    fix = ('start the job with the group: `--group-add %s` (docker, podman; Jenkins: args \'--group-add %s\'; '
           'GitHub Actions: options: --group-add %s), Kubernetes securityContext supplementalGroups: [%d] or '
           'runAsGroup: %d, or the user by name (`--user %s`); or build the image with %s as the CI user\'s '
           'primary group (docs/images.md)' % (gid, gid, gid, gid, gid, user, name))
    return summary, cause, fix


def check_lost_acls(doc):
    """The default ACLs the role relies on are gone (an image's layers drop them: docs/images.md)."""
    cache = doc.shared('cache_dir')
    if not cache or doc.config.get('fallback') or (doc.config.get('acl') or 'auto') == 'off':
        return
    try:
        if acl.read(cache, acl.DEFAULT):
            return
    except OSError:
        return  # not reachable (the access checks say why) or no ACLs on this file system at all
    umask = doc.probe.get('umask')
    yours = ('umask %04o' % umask) if umask is not None else 'umask'
    details = {'path': cache, 'container': in_container(doc.environ)}
    if details['container']:
        doc.add('acl', WARNING, 'this image lost its ACLs: %s has no default ACL, which the image build set up'
                % cache,
                cause='image layers do not keep POSIX ACLs, and the wrappers set no group umask because the '
                      'role saw ACLs working when the image was built: what uv creates gets your %s, and '
                      'what root created in later build steps is closed to the group' % yours,
                fix='rebuild the image with the image mode of the uvfleet.uv.shared role (uv_shared_target '
                    'auto or image) and its last step `uvfleet repair` (docs/images.md); until then run '
                    '`umask 0007` before uv in the job', **details)
    else:
        doc.add('acl', WARNING, 'the default ACL of %s is gone, and the wrappers rely on it' % cache,
                cause='something removed it (a copy or restore without ACLs, `setfacl -b`); what uv creates '
                      'there gets your %s' % yours,
                fix="ask the node's admin to run `uvfleet repair` (it sets the default ACLs again)", **details)
