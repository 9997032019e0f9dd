# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why the engine refuses to start: each error's message says why and what to do instead.

Raised before anything is changed: by ``roots.py`` (a root that must not be walked as
root, ACLs required and missing), ``groups.py`` (a group that does not resolve, an
acl_allow entry that names no one) and ``engine.py`` (jobs, a failed parallel walk).
"""

from __future__ import absolute_import, division, print_function


class PermsError(Exception):
    """The engine refuses to run; the message says why and what to do instead."""


class RefusedRoot(PermsError):
    """A root that must not be walked as root."""


class UnknownGroup(PermsError):
    """The group does not resolve."""


class AclUnsupported(PermsError):
    """acl=required on a file system without POSIX ACLs."""
