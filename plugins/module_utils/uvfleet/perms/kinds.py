# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kinds of finding the engine reports, their classes, and the tables they are counted in.

A kind's class says what the engine does about it: ``fix`` (the repair changes the
entry), ``report`` (never changed, counts as remaining), ``unsafe`` (left alone for
safety, counts as remaining) or ``info`` (never changed, never counted).  Pure data:
the policy, the engine, the report and the maintenance job's metrics all name kinds
from here.
"""

from __future__ import absolute_import, division, print_function

# Kinds the repair fixes.
WRONG_GROUP = 'wrong_group'
DIR_NOT_SETGID = 'dir_not_setgid'
DIR_STICKY = 'dir_sticky'
GROUP_PERMS = 'group_perms'
OTHERS_PERMS = 'others_perms'
WORLD_WRITABLE = 'world_writable'
SETUID_SETGID = 'setuid_setgid'
ACL_MASK = 'acl_mask'
ACL_GROUP = 'acl_group'
ACL_NAMED = 'acl_named'
DEFAULT_ACL_MISSING = 'default_acl_missing'
DEFAULT_ACL_WRONG = 'default_acl_wrong'
# Kinds that are reported and never changed; they count as remaining.
SYMLINK_OUTSIDE = 'symlink_outside'
SPECIAL_FILE = 'special_file'
TOO_DEEP = 'too_deep'
ERROR = 'error'
# Kinds the engine refuses to change for safety (skipped_unsafe); they count as remaining.
HARDLINK_FOREIGN = 'hardlink_foreign'
SWAPPED = 'swapped'
# Informational kinds: reported, never changed, never counted as remaining.
SYMLINK_DANGLING = 'symlink_dangling'
OTHER_FILESYSTEM = 'other_filesystem'
VANISHED = 'vanished'

FIX = 'fix'
REPORT = 'report'
UNSAFE = 'unsafe'
INFO = 'info'

#: kind -> class, in the order reports list them.
KINDS = (
    (WRONG_GROUP, FIX),
    (DIR_NOT_SETGID, FIX),
    (DIR_STICKY, FIX),
    (GROUP_PERMS, FIX),
    (OTHERS_PERMS, FIX),
    (WORLD_WRITABLE, FIX),
    (SETUID_SETGID, FIX),
    (ACL_MASK, FIX),
    (ACL_GROUP, FIX),
    (ACL_NAMED, FIX),
    (DEFAULT_ACL_MISSING, FIX),
    (DEFAULT_ACL_WRONG, FIX),
    (SYMLINK_OUTSIDE, REPORT),
    (SPECIAL_FILE, REPORT),
    (TOO_DEEP, REPORT),
    (ERROR, REPORT),
    (HARDLINK_FOREIGN, UNSAFE),
    (SWAPPED, UNSAFE),
    (SYMLINK_DANGLING, INFO),
    (OTHER_FILESYSTEM, INFO),
    (VANISHED, INFO),
)
KIND_CLASS = dict(KINDS)
KIND_ORDER = dict((kind, i) for i, (kind, _cls) in enumerate(KINDS))
FIXABLE = frozenset(k for k, c in KINDS if c == FIX)
COUNTED = frozenset(k for k, c in KINDS if c != INFO)

# The tables an entry's tuple of kinds is counted in at once (Report.count_kinds).
FOUND = ('findings',)
REMAINING = ('remaining',)
FIXED = ('fixed',)
WOULD_FIX = ('would_fix',)
#: an audit's finding: found, and still there (the engine's commonest case)
FOUND_REMAINING = ('findings', 'remaining')
