#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: cache_verify
short_description: Find corrupted or tampered unpacked wheels in a shared uv cache, and quarantine them
version_added: 1.0.0
description:
  - Compares every file of every unpacked distribution in the cache's C(archive-v0) bucket (unpacked wheels,
    and the cached environments of C(uvx) and C(uv run --with)) with the sha256 and size listed in its
    C(*.dist-info/RECORD). uv checks hashes when it downloads, never again when it reuses an unpacked entry.
  - "Bad kinds: V(missing), V(wrong_size) (for example the zero-length file of uv#6648), V(wrong_hash) (a
    module a member rewrote), V(not_regular) (a symlink, fifo or directory where RECORD lists a file),
    V(unlisted) (a file no RECORD lists, bytecode and the files uv writes into cached environments excepted),
    V(record_unparsable). Reported: V(error). Informational: V(unverifiable) (no RECORD, or a RECORD without
    hashes), V(changed) (changed while it was hashed: not judged), V(vanished)."
  - With O(repair=true) each bad entry is moved as a whole (never edited) into a root-only quarantine directory
    outside the cache, with a C(note.json) of why; uv downloads or builds the distribution again the next time
    it needs it. The move holds the cache lock exclusively (it waits for running uv commands).
  - Reads every byte of the bucket, so it is a module of its own and not part of C(uvfleet.uv.cache_perms),
    which only stats; run it on its own, slower schedule. The same check runs as C(uvfleet verify) on nodes.
  - Safe as root in a cache members can write; it never follows a symlink, opens files with
    C(O_NOFOLLOW|O_NONBLOCK) relative to verified directory fds and checks them against the scanned
    (device, inode); fifos, sockets and devices are never opened.
author:
  - uvfleet maintainers (@uvfleet)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - With O(repair=true), check mode reports in RV(would_quarantine) what a repair would move, and moves nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
options:
  path:
    description:
      - The uv cache directory (the one holding C(archive-v0)). It must not be a symlink.
    type: path
    required: true
  repair:
    description:
      - V(true) moves bad entries to O(quarantine_dir); V(false) only reports.
    type: bool
    default: false
  quarantine_dir:
    description:
      - Where bad entries go. It must be outside the cache (C(uv cache prune) deletes what is not a bucket) and
        on the same file system (entries are renamed, not copied). Created root-only (C(0700)); refused when it is
        a symlink, not owned by root or open to group or others.
      - Default C(<path>.quarantine), beside the cache.
    type: path
  jobs:
    description:
      - Hashing workers (forked processes, or threads with O(pool=thread)).
    type: int
    default: 2
  pool:
    description:
      - V(process) forks workers (default, faster on many small files); V(thread) uses threads.
    type: str
    choices: [process, thread]
    default: process
  max_samples:
    description:
      - Samples kept per kind of finding in RV(samples).
    type: int
    default: 20
  lock_timeout:
    description:
      - Seconds a repair waits for running uv commands to release the cache lock before it gives up (it fails,
        and nothing is moved).
    type: int
    default: 60
  fail_on_findings:
    description:
      - Fail when bad entries remain after the run (RV(remaining) is not empty).
    type: bool
    default: false
notes:
  - Run it as root (C(become=true)).
  - Only C(archive-v0) holds what uv installs from in uv 0.13; the source trees of C(sdists-v*) and the built
    C(.whl) files beside them have no RECORD to check against.
  - See C(docs/content_check.md) in the collection for the measurements and the recovery of uv after a quarantine.
seealso:
  - module: uvfleet.uv.cache_perms
'''

EXAMPLES = r'''
- name: Audit the unpacked wheels of the shared cache, fail on damage
  uvfleet.uv.cache_verify:
    path: /var/cache/uv
    fail_on_findings: true
  become: true

- name: Quarantine what is damaged (uv fetches it again)
  uvfleet.uv.cache_verify:
    path: /var/cache/uv
    repair: true
    quarantine_dir: /var/cache/uv.quarantine
  become: true
'''

RETURN = r'''
findings:
  description: Number of findings by kind.
  returned: success
  type: dict
  sample: {"wrong_size": 1, "wrong_hash": 1, "unverifiable": 2}
samples:
  description: Findings with their exact paths (at most O(max_samples) per kind).
  returned: success
  type: list
  elements: dict
  sample:
    - kind: wrong_hash
      path: /var/cache/uv/archive-v0/x1/six.py
      entry: x1
      current: sha256=...
      expected: sha256=...
bad_entries:
  description: The C(archive-v0) entries with bad findings, with their counts and samples.
  returned: success
  type: list
  elements: dict
remaining:
  description: Names of bad entries still in the cache after the run.
  returned: success
  type: list
  elements: str
quarantined:
  description: Entries moved, each with C(entry), C(status) and C(to) (its new path).
  returned: success
  type: list
  elements: dict
would_quarantine:
  description: In check mode with O(repair=true), what a repair would move.
  returned: success
  type: list
  elements: dict
not_moved:
  description: Bad entries a repair could not move (vanished, replaced since the check, error), with C(msg).
  returned: success
  type: list
  elements: dict
entries:
  description: Number of C(archive-v0) entries checked.
  returned: success
  type: int
files_verified:
  description: Files whose size and sha256 matched their RECORD.
  returned: success
  type: int
files_unverifiable:
  description: Files with nothing to check them against (no RECORD, no hash, venv scaffolding, bytecode, RECORD itself).
  returned: success
  type: int
bytes_hashed:
  description: Bytes read and hashed.
  returned: success
  type: int
mode:
  description: V(audit), V(check) or V(repair).
  returned: success
  type: str
duration:
  description: Wall time of the check in seconds.
  returned: success
  type: float
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.content.check import ContentError
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.content.quarantine import QuarantineError
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.content.verify import POOLS, run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            repair=dict(type='bool', default=False),
            quarantine_dir=dict(type='path'),
            jobs=dict(type='int', default=2),
            pool=dict(type='str', choices=list(POOLS), default='process'),
            max_samples=dict(type='int', default=20),
            lock_timeout=dict(type='int', default=60),
            fail_on_findings=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params['jobs'] < 1 or params['max_samples'] < 0 or params['lock_timeout'] < 0:
        module.fail_json(msg='jobs must be 1 or more, max_samples and lock_timeout 0 or more')
    try:
        result = run(params['path'], repair=params['repair'], dry_run=module.check_mode,
                     quarantine_dir=params['quarantine_dir'], workers=params['jobs'], pool=params['pool'],
                     max_samples=params['max_samples'], lock_timeout=params['lock_timeout'])
    except (ContentError, QuarantineError) as exc:
        module.fail_json(msg=str(exc))
    if params['fail_on_findings'] and result['remaining']:
        module.fail_json(msg='%d damaged cache entries remain (%s): %s' % (
            len(result['remaining']), ', '.join('%s=%d' % kv for kv in result['findings'].items()),
            ', '.join(s['path'] for s in result['samples'] if s['kind'] not in ('unverifiable', 'changed'))[:2000]),
            **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
