#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: cache_perms
short_description: Audit and repair group permissions and ACLs of a shared uv cache, safely as root
version_added: 1.0.0
description:
  - Walks one or more shared trees (a uv cache, a shared uv Python or tool directory) and compares
    every entry with the policy the C(uvfleet.uv.shared) role sets up, reports what differs, counted
    by kind of finding, and in repair mode fixes it.
  - "Default policy: every entry belongs to O(group); directories are setgid, group C(rwx), others
    nothing, no sticky bit, with a default ACL C(user::rwx,group::rwx,mask::rwx,other::---); regular
    files are group C(rw) plus C(x) where the owner has C(x), others nothing, no setuid/setgid, and an
    access ACL mask that does not cut the group's rights; nothing is ever world-writable; named ACL
    entries (access and default ACLs, live or dormant under the mask) only for members of O(group),
    O(group) itself and O(acl_allow): any other is V(acl_named) and a repair removes it before it
    raises any mask."
  - "Safe as root in a directory other users can write: it never follows a symlink; it opens each
    O(path) component by component from C(/) with C(O_NOFOLLOW) and walks the directory it checked;
    it enters directories only through fds opened with C(O_DIRECTORY|O_NOFOLLOW) relative to their
    parent; it changes an entry only through an fd opened with C(O_NOFOLLOW) and checked against the
    (device, inode) it scanned (C(fchown), C(fchmod), C(fsetxattr)), never by path; it decides where a
    symlink leads hop by hop from those fds (at most 40 hops), never by resolving a path; it stays on
    the file system and mount of each O(path) (another device, a bind mount, an automount point that
    it never triggers); hardlinked files whose owner is not a member of O(group) are left alone;
    fifos, sockets and devices are reported and never opened; symlinks are never changed."
  - Refuses V(/), system directories such as C(/home), C(/opt), C(/srv), C(/var) or C(/tmp) themselves
    (their subdirectories such as C(/var/cache/uv) or C(/opt/uv) are fine), whole system trees
    (C(/etc), C(/usr), C(/boot), C(/proc), C(/sys), C(/dev), C(/run), C(/root), C(/bin), C(/sbin),
    C(/lib*), C(/var/lib/dpkg), C(/var/log), ... with everything below them), a O(path) with a symlink
    in it, and a O(path) whose ancestors users other than root can change (only root-owned, not group-
    or world-writable directories, or a root-owned sticky directory such as C(/tmp) with a root-owned
    next component).
  - Entries that vanish during the walk (uv running at the same time) are skipped and counted, not errors.
  - ACLs are read and written as C(system.posix_acl_*) extended attributes, without a process per
    file. On file systems without POSIX ACLs only mode bits are checked (see O(acl)).
  - The same engine runs without Ansible as C(uvfleet audit|check|repair), the node command the
    C(uvfleet.uv.shared) role installs (C(bin/uvfleet) in the collection); it prints the same report as JSON.
author:
  - uvfleet maintainers (@uvfleet)
requirements:
  - Python 3.7 or newer on the managed node (standard library only); on an older Python the module fails
    with a message naming the version found.
  - Linux (POSIX ACLs as C(system.posix_acl_*) extended attributes).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - With O(repair=true), check mode only audits and reports C(changed=true) if a repair would change something.
  diff_mode:
    support: full
    details:
      - Lists the changed entries (mode, group and default ACL before and after), at most 1000 lines.
  platform:
    support: full
    platforms: linux
options:
  path:
    description:
      - Root directory of a shared tree, or a list of them. Each is walked on its own file system only.
    type: list
    elements: path
    required: true
  group:
    description:
      - The shared group, as a name or a numeric GID; it must exist on the host, or the module fails before
        changing anything.
      - A GID is ASCII digits only, at most 4294967294. A name wins over a number; digits that are the name
        of one group and the GID of another are refused as ambiguous.
    type: str
    required: true
  repair:
    description:
      - V(true) fixes what is fixable and safe; V(false) only audits and never changes anything.
    type: bool
    default: true
  others:
    description:
      - What users outside the group may have. V(none) removes all their rights; V(read) lets them keep
        C(r) and C(X) (C(x) on directories and on files whose owner has C(x)), never C(w).
    type: str
    choices: [none, read]
    default: none
  group_access:
    description:
      - V(write) for a tree the group writes (a cache); V(read) for a read-only consumer tree, where the
        group gets C(r-x) on directories and C(r--) (C(r-x) for executables) on files, and group write
        is removed.
    type: str
    choices: [write, read]
    default: write
  acl:
    description:
      - V(auto) checks and repairs ACLs where the file system supports them and otherwise works on mode
        bits only, noting it in RV(notes) and RV(acl_supported).
      - V(required) fails before changing anything if a O(path) is on a file system without POSIX ACLs.
      - V(off) never reads or writes ACLs.
    type: str
    choices: [auto, required, "off"]
    default: auto
  exclude:
    description:
      - Glob patterns (Python C(fnmatch)) matched against each entry's path relative to its O(path), for
        example V(sdists-v*/.git) or V(archive-v0/tmp*). C(*) also matches C(/). A matching entry, and
        everything below a matching directory, is left alone (counted in RV(excluded)).
      - An exclusion never hides what is dangerous; such an entry is checked and repaired as if it were not
        excluded - a setuid/setgid file, a world-writable directory, a fifo, socket or device, a named ACL
        entry for an outsider, a symlink that leaves the tree. Excluded directories are walked for that.
    type: list
    elements: str
    default: []
  exclude_locks:
    description:
      - Glob patterns for uv's lock files, for example V(*.lock). A matching path is left alone only when it
        is a regular file of mode C(0666), the mode uv gives its locks; a matching directory, a setuid file
        or a file of any other mode is checked like any other entry.
    type: list
    elements: str
    default: []
  acl_allow:
    description:
      - Principals that named ACL entries may name besides the members of O(group) and O(group) itself, as
        V(user:NAME), V(user:UID), V(group:NAME) or V(group:GID). Names must exist on the host.
    type: list
    elements: str
    default: []
  link_roots:
    description:
      - Other managed trees a symlink may point into without being a V(symlink_outside) finding, for
        example the shared Python and tool directories for a tool bin dir. The links are still resolved hop
        by hop inside those trees; a link that goes on from there to anywhere else stays a finding.
    type: list
    elements: path
    default: []
  node_config:
    description:
      - Check or repair each O(path) with the policy the C(uvfleet.uv.shared) role set for that directory
        in the node configuration (C(/etc/uvfleet/config.json)), the same options the node command
        C(uvfleet audit) and the maintenance job use; O(others), O(group_access), O(acl), O(exclude),
        O(exclude_locks) and O(link_roots) are then ignored. All paths of one call must share one policy.
    type: bool
    default: false
  max_samples:
    description:
      - At most this many sample findings in RV(samples), spread over the kinds found.
    type: int
    default: 20
  fail_on_findings:
    description:
      - Fail when counted findings remain after the run (RV(remaining) is not empty).
      - In audit or check mode every finding except the informational kinds counts; after a repair, what
        could not be fixed counts, including entries skipped as unsafe (V(hardlink_foreign), V(swapped)),
        V(symlink_outside), V(special_file), V(too_deep) and V(error).
      - "Informational kinds never count: V(symlink_dangling), V(other_filesystem), V(vanished). Symlinks that
        stay inside the tree (uv's C(wheels-v*) entries) are not findings at all."
    type: bool
    default: false
  jobs:
    description:
      - Number of processes that walk the tree. V(auto) (the default; also V(0)) uses the CPUs available to
        the module (C(os.sched_getaffinity)), at most 8, and walks serially, without forking, until the walk has
        seen 10,000 entries (a small tree never forks). V(1) always walks in this process; another number is
        taken as given.
      - "With more than one, the module walks the first levels itself (for a uv cache, the buckets such as
        C(archive-v0)) and hands the subtrees below them out to forked worker processes through a queue, in
        batches of at most 4096 subtrees (the module's memory stays flat however wide a directory is); each
        worker enters its subtrees from a directory fd the module opened and verified, with the same
        C(O_DIRECTORY|O_NOFOLLOW) checks as the serial walk, and sends its counts and bounded samples back once.
        The report is the same as with V(1), apart from which samples are kept when there are more than
        O(max_samples)."
      - See C(docs/benchmarks.md) for measurements at the default and with explicit values.
    type: str
    default: auto
  probe_reflink:
    description:
      - Also ask whether each O(path)'s file system clones files (reflinks, C(FICLONE)), which uv's
        C(link-mode = "clone") needs; the answer is in RV(reflink_supported). The C(uvfleet.uv.shared) role
        picks the cache's link mode with it.
      - "Safe in a directory members write: two new files are made in the checked directory fd with
        C(O_CREAT|O_EXCL|O_NOFOLLOW) under random names, cloned fd to fd and unlinked relative to that fd;
        no path is resolved, nothing a member planted is opened."
      - "Not in check mode: making and removing those files moves the directory's mtime and ctime, and check
        mode changes nothing on the node; RV(reflink_supported) is then not returned."
    type: bool
    default: false
  create:
    description:
      - "Make each O(path) that does not exist, with its missing parents, before the run. The same refusals
        as the walk's come first, for every O(path) before anything is made (system directories and trees by
        name); then each is opened component by component from C(/) with C(O_NOFOLLOW), each existing
        ancestor must be root's and closed to others, and a missing component is made with C(mkdirat)
        relative to its checked parent (parents root C(0755), the path itself root C(0700) until a repair
        gives it to O(group)). A symlink anywhere in the path is refused, never followed: a member who
        planted one where a shared directory is to be made cannot make root create, chown or chmod
        anything elsewhere."
      - The paths made are in RV(created). In check mode nothing is made; the paths that would be are in
        RV(created) and left out of the walk (with no O(path) left, nothing is walked).
    type: bool
    default: false
    version_added: 1.1.0
  full:
    description:
      - "Check every entry in full. By default a run is incremental where that is safe: after a run that ended
        with nothing remaining, the module keeps per O(path) a watermark (the change time of a marker file it
        makes and removes in the checked root fd: the file system's own clock) and what the verdicts depended on
        (policy options, group, ACL support, the engine), in C(/var/lib/uvfleet/perms-state) (root C(0700),
        never in the cache). The next run still walks and C(lstat)s every entry, but a regular file or
        directory whose change time is older than the watermark (less a 2 s margin), in a directory that was
        there at that run and has not changed since, keeps its verdict without its ACL being read. Every
        C(chmod), C(chown), C(setfacl), C(setxattr), C(link) and C(rename) moves an inode's change time, and
        only root can move the clock. A run is full anyway when there is no usable state, something it
        depended on changed, or the clock went back; RV(run) and RV(runs) say which and why."
      - With V(true) the state is renewed all the same. In check mode every run is full and nothing is recorded.
    type: bool
    default: false
    version_added: 1.1.0
notes:
  - Run it as root (C(become=true)); as another user it can only change the entries that user owns.
  - "Finding kinds fixed by a repair: V(wrong_group), V(dir_not_setgid), V(dir_sticky), V(group_perms),
    V(others_perms), V(world_writable), V(setuid_setgid), V(acl_mask), V(acl_group), V(acl_named),
    V(default_acl_missing), V(default_acl_wrong). Reported, never changed: V(symlink_outside), V(special_file), V(too_deep),
    V(error). Skipped as unsafe: V(hardlink_foreign), V(swapped). Informational: V(symlink_dangling),
    V(other_filesystem), V(vanished). See C(docs/cache_perms.md) in the collection."
  - Where ACLs are used, the access ACL of every regular file is read (one C(lgetxattr) per file), because a
    named entry for an outsider does not show in the mode bits.
  - The group of a symlink itself is not checked or changed (it grants nothing on Linux, and changing it
    by name would reopen the race this module avoids).
  - uid 0 never counts as a member of the group for the hardlink rule.
seealso:
  - name: uv cache documentation
    description: Where uv keeps its cache and how it writes to it.
    link: https://docs.astral.sh/uv/concepts/cache/
'''

EXAMPLES = r'''
- name: Repair the shared uv cache
  uvfleet.uv.cache_perms:
    path: /var/cache/uv
    group: uvshared
  become: true

- name: Audit the cache and the shared Pythons, fail if anything is wrong
  uvfleet.uv.cache_perms:
    path:
      - /var/cache/uv
      - /opt/uv/python
    group: uvshared
    repair: false
    fail_on_findings: true
  become: true

- name: A read-only tree that others may read too, by GID, without ACLs
  uvfleet.uv.cache_perms:
    path: /srv/uv/tools
    group: "4343"
    group_access: read
    others: read
    acl: "off"
  become: true

- name: What would a repair change? (check mode, with the diff)
  uvfleet.uv.cache_perms:
    path: /var/cache/uv
    group: uvshared
    exclude:
      - "builds-v*/*"
  check_mode: true
  diff: true
  become: true
  register: cache_audit

- name: Show the counts
  ansible.builtin.debug:
    msg: "{{ cache_audit.findings }} found, would fix {{ cache_audit.would_fix }}"
'''

RETURN = r'''
scanned:
  description: Number of entries examined (each root included; excluded entries not counted).
  returned: success
  type: int
  sample: 200102
findings:
  description: Number of findings by kind (an entry can have several).
  returned: success
  type: dict
  sample: {"wrong_group": 12, "group_perms": 40, "acl_mask": 3, "symlink_outside": 1}
fixed:
  description: Number of findings fixed by kind. Empty in audit and check mode.
  returned: success
  type: dict
  sample: {"wrong_group": 12, "group_perms": 40, "acl_mask": 3}
would_fix:
  description: In check mode with O(repair=true), what a repair would fix, by kind.
  returned: success
  type: dict
  sample: {"group_perms": 40}
remaining:
  description:
    - Findings that still need attention after the run, by kind; informational kinds are not included.
    - O(fail_on_findings) fails when this is not empty.
  returned: success
  type: dict
  sample: {"symlink_outside": 1, "hardlink_foreign": 2, "group_perms": 2}
skipped_unsafe:
  description: Entries left alone for safety, by kind (V(hardlink_foreign), V(swapped)).
  returned: success
  type: dict
  sample: {"hardlink_foreign": 2}
samples:
  description: A bounded sample of findings (at most O(max_samples)), spread over the kinds.
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: Absolute path of the entry.
      type: str
    kind:
      description: Kind of finding.
      type: str
    current:
      description: What the entry looks like.
      type: str
    expected:
      description: What the policy wants.
      type: str
    status:
      description: V(found), V(fixed), V(would fix), V(skipped), V(failed), V(reported), V(ignored) or V(vanished).
      type: str
  sample:
    - path: /var/cache/uv/archive-v0/x1/pkg/__init__.py
      kind: group_perms
      current: 0600 (-rw-------)
      expected: 0660 (-rw-rw----)
      status: fixed
acl_supported:
  description: Per O(path), whether its file system supports POSIX ACLs.
  returned: success
  type: dict
  sample: {"/var/cache/uv": true}
reflink_supported:
  description: Per O(path), whether its file system clones files (reflinks); V(false) also when no file could be
    made there.
  returned: with O(probe_reflink=true), not in check mode
  type: dict
  sample: {"/var/cache/uv": false}
notes:
  description: Remarks about the run, for example a file system without ACL support.
  returned: success
  type: list
  elements: str
  sample: []
entries_with_findings:
  description: Number of entries with at least one finding.
  returned: success
  type: int
  sample: 55
entries_changed:
  description: Number of entries changed (in check mode, that a repair would change).
  returned: success
  type: int
  sample: 52
excluded:
  description: Number of entries left alone by O(exclude) and O(exclude_locks) (each entry below an excluded directory counts).
  returned: success
  type: int
  sample: 0
failed_count:
  description: Sum of RV(remaining), the number O(fail_on_findings) tests.
  returned: success
  type: int
  sample: 3
created:
  description: The O(path) entries made by O(create) (in check mode, those that would be), normalised.
  returned: with O(create=true)
  type: list
  elements: str
  sample: ["/var/cache/uv"]
  version_added: 1.1.0
mode:
  description: V(audit), V(check) (check mode with O(repair=true)) or V(repair).
  returned: success
  type: str
  sample: repair
gid:
  description: The numeric GID of O(group).
  returned: success
  type: int
  sample: 4343
run:
  description: V(incremental) (every O(path) ran incremental), V(full) (none did) or V(mixed). See O(full).
  returned: success
  type: str
  sample: incremental
  version_added: 1.1.0
runs:
  description: Per root walked, V(full) or V(incremental) and why (e.g. V(no state (first run)), V(asked for (full)),
    the facts that changed since the last clean run).
  returned: success
  type: list
  elements: dict
  sample: [{"path": "/var/cache/uv", "kind": "incremental", "reason": "incremental"}]
  version_added: 1.1.0
unchanged:
  description: Entries that kept their last verdict (unchanged since the last clean run; their ACLs were not read).
  returned: success
  type: int
  sample: 998000
  version_added: 1.1.0
checked_in_full:
  description: Entries checked in full (RV(scanned) less RV(unchanged)).
  returned: success
  type: int
  sample: 2000
  version_added: 1.1.0
duration:
  description: Wall time of the walk in seconds.
  returned: success
  type: float
  sample: 1.52
'''

import os
import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms.policy import (
    ACL_CHOICES, GROUP_ACCESS_CHOICES, OTHERS_CHOICES,
)

# The managed node's Python floor (also in DOCUMENTATION requirements and the README):
# the walk opens directories with os.scandir(fd), new in 3.7. Below it the engine is not
# even imported (Python 2 cannot compile it), and main() fails with a clear message.
PYTHON_FLOOR = (3, 7)
if sys.version_info >= PYTHON_FLOOR:
    from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet import nodeconfig
    from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.fs import reflink
    from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms.engine import Options, run
    from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms.incremental import default_state_dir
    from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms.errors import PermsError
    from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms.roots import make_roots, open_root


def probe_reflinks(paths):
    """{root: reflinks work there}, each root opened and checked as the walk opens it (roots.open_root)."""
    found = {}
    for path in paths:
        root, fd, _st = open_root(path)
        try:
            found[root] = reflink.supported(fd)
        except OSError:
            found[root] = False
        finally:
            os.close(fd)
    return found


def policy_options(module, paths):
    """The engine options of the policy: the module's own, or with node_config the node configuration's."""
    params = module.params
    if not params['node_config']:
        return dict((name, params[name]) for name in ('others', 'group_access', 'acl', 'exclude', 'exclude_locks',
                                                      'link_roots'))
    try:
        config = nodeconfig.load()
    except nodeconfig.ConfigError as exc:
        module.fail_json(msg=str(exc))
    policies = [nodeconfig.dir_policy(config, os.path.normpath(path)) for path in paths]
    if any(policy != policies[0] for policy in policies):
        module.fail_json(msg='node_config: %s have different policies in %s; give them one call each'
                             % (', '.join(paths), nodeconfig.DEFAULT_PATH))
    return policies[0]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='list', elements='path', required=True),
            group=dict(type='str', required=True),
            repair=dict(type='bool', default=True),
            others=dict(type='str', choices=list(OTHERS_CHOICES), default='none'),
            group_access=dict(type='str', choices=list(GROUP_ACCESS_CHOICES), default='write'),
            acl=dict(type='str', choices=list(ACL_CHOICES), default='auto'),
            exclude=dict(type='list', elements='str', default=[]),
            exclude_locks=dict(type='list', elements='str', default=[]),
            acl_allow=dict(type='list', elements='str', default=[]),
            link_roots=dict(type='list', elements='path', default=[]),
            max_samples=dict(type='int', default=20),
            fail_on_findings=dict(type='bool', default=False),
            jobs=dict(type='str', default='auto'),
            probe_reflink=dict(type='bool', default=False),
            create=dict(type='bool', default=False),
            node_config=dict(type='bool', default=False),
            full=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    if sys.version_info < PYTHON_FLOOR:
        floor = '.'.join(map(str, PYTHON_FLOOR))
        module.fail_json(msg='cache_perms needs Python %s or newer on the managed node, found Python %s (%s); '
                             'point ansible_python_interpreter at a python3 of %s or newer'
                             % (floor, '.'.join(map(str, sys.version_info[:3])), sys.executable, floor))
    params = module.params
    if params['max_samples'] < 0:
        module.fail_json(msg='max_samples must be 0 or more, got %d' % params['max_samples'])
    if not params['path']:
        module.fail_json(msg='path is empty: give the shared tree, e.g. /var/cache/uv')
    created = None
    paths = params['path']
    try:
        if params['create']:
            created = make_roots(paths, dry_run=module.check_mode)
            if module.check_mode:
                paths = [path for path in paths if os.path.normpath(path) not in created]
                if not paths:
                    module.exit_json(changed=bool(created), created=created, mode='check' if params['repair'] else 'audit')
        result = run(paths, params['group'], Options(
            repair=params['repair'], dry_run=module.check_mode, acl_allow=params['acl_allow'],
            max_samples=params['max_samples'], jobs=params['jobs'], full=params['full'],
            state_dir=default_state_dir(), **policy_options(module, paths)))
        if params['probe_reflink'] and not module.check_mode:
            result['reflink_supported'] = probe_reflinks(paths)
    except PermsError as exc:
        module.fail_json(msg=str(exc))

    if created is not None:
        result['created'] = created
        result['changed'] = result['changed'] or bool(created)
    diff = result.pop('diff')
    result['gid'] = result.pop('group')
    result.pop('paths', None)
    if module._diff and result['changed']:
        result['diff'] = {'before': diff['before'], 'after': diff['after']}
    if params['fail_on_findings'] and result['failed_count']:
        module.fail_json(msg='%d findings remain: %s' % (
            result['failed_count'], ', '.join('%s=%d' % kv for kv in result['remaining'].items())), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
