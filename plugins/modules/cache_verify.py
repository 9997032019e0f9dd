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
  - "uv never changes an unpacked entry after it made it, so with O(record=true) the module keeps a root-only record
    (in O(record_dir), outside the cache) of the size and sha256 of every file of every entry it has seen whole and
    sound, and reports any later change: V(rewritten) (also when the RECORD line was rewritten to match), V(added),
    V(removed). Trust on first use: what was changed before the first check that saw an entry is what gets recorded."
  - "Bounded against what a member can plant cheaply: a file larger than O(max_file_size) (a sparse file costs her
    almost nothing) or beyond O(max_entry_size) in its entry is not hashed, hashing stops after O(time_budget)
    seconds, and at most O(max_entries) names of C(archive-v0) are looked at. What is not checked is reported as
    V(skipped) with its reason and counted in RV(unchecked); RV(complete) is V(false) then. A size that differs from
    RECORD or from the record is judged without hashing."
author:
  - uvfleet maintainers (@uvfleet)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - With O(repair=true), check mode reports in RV(would_quarantine) what a repair would move, and moves nothing.
      - Check mode compares with the record and saves nothing (nor creates O(record_dir)).
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
  record:
    description:
      - Keep and compare the root-held record of what each entry held when the check first saw it.
      - V(false) compares with RECORD only; a file rewritten together with its RECORD line then passes.
    type: bool
    default: true
    version_added: 1.1.0
  record_dir:
    description:
      - Directory of the record, one file per cache path. It must be outside the cache, root-owned, mode C(0700),
        and every directory above it root-owned and not writable by group or others; missing directories are
        created C(0700). Refused when it is a symlink, inside the cache, or open to group or others.
    type: path
    default: /var/lib/uvfleet/content
    version_added: 1.1.0
  time_budget:
    description:
      - Seconds after which the check stops hashing; what was not checked is reported (RV(unchecked)). The entries
        looked at longest ago go first, so the next run goes on where this one stopped. V(0) sets no budget.
    type: int
    default: 21600
    version_added: 1.1.0
  max_file_size:
    description:
      - Bytes above which a file is not hashed (its size is still compared with RECORD and the record). V(0) sets
        no bound.
    type: int
    default: 17179869184
    version_added: 1.1.0
  max_entry_size:
    description:
      - Bytes hashed at most per entry; the files beyond are skipped. V(0) sets no bound.
    type: int
    default: 68719476736
    version_added: 1.1.0
  max_entries:
    description:
      - Names of C(archive-v0) looked at at most; the others are counted as skipped. V(0) sets no bound.
    type: int
    default: 500000
    version_added: 1.1.0
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
  description:
    - Number of findings by kind. Against RECORD V(missing), V(wrong_size), V(wrong_hash), V(not_regular),
      V(unlisted), V(record_unparsable); against the record V(rewritten), V(added), V(removed) (all bad); V(error),
      V(skipped) (reported); V(unverifiable), V(changed), V(vanished) (informational).
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
complete:
  description: V(true) when every entry was looked at and every file hashed that had to be (nothing in RV(unchecked)).
  returned: success
  type: bool
  version_added: 1.1.0
unchecked:
  description:
    - What the limits and the time budget left unchecked (not named C(skipped), which Ansible reserves for a skipped
      task). C(files) and C(entries) count by reason
      (V(file_size), V(entry_size), V(time_budget); V(time_budget), V(entry_count)), C(bytes) is the size of the
      files not hashed. Each is also a V(skipped) finding in RV(samples) with its path and reason.
  returned: success
  type: dict
  sample: {"files": {"file_size": 1, "entry_size": 0, "time_budget": 0}, "entries": {"time_budget": 0, "entry_count": 0},
           "bytes": 8796093022208}
  version_added: 1.1.0
limits:
  description: The limits of the run (V(0) is no bound).
  returned: success
  type: dict
  version_added: 1.1.0
record:
  description:
    - The root-held record of the run. C(state) is V(created) (first run for this cache), V(loaded), V(reset) (it was
      unusable, set aside as C(.unusable), every entry seen anew), V(busy) (another check held it), V(read_only)
      (check mode), V(absent) (check mode, none yet) or V(off). C(entries) counts V(known) (compared with the record),
      V(first_seen) (recorded this run), V(unrecorded) (bad, not seen whole, or the record is full), V(dropped)
      (gone from the cache), V(carried) (kept unchanged).
  returned: success
  type: dict
  sample: {"state": "loaded", "saved": true, "file": "/var/lib/uvfleet/content/cache-0123abcd.record",
           "entries": {"known": 120, "first_seen": 3, "unrecorded": 0, "dropped": 1, "carried": 0}}
  version_added: 1.1.0
files_matched_record:
  description: Files whose size and sha256 equal what the record holds for them.
  returned: success
  type: int
  version_added: 1.1.0
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.content.check import ContentError
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.content.quarantine import QuarantineError
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.content.verify import POOLS, run
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.escape import printable


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
            record=dict(type='bool', default=True),
            record_dir=dict(type='path', default='/var/lib/uvfleet/content'),
            time_budget=dict(type='int', default=21600),
            max_file_size=dict(type='int', default=16 << 30),
            max_entry_size=dict(type='int', default=64 << 30),
            max_entries=dict(type='int', default=500000),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params['jobs'] < 1 or params['max_samples'] < 0 or params['lock_timeout'] < 0:
        module.fail_json(msg='jobs must be 1 or more, max_samples and lock_timeout 0 or more')
    bounds = ('time_budget', 'max_file_size', 'max_entry_size', 'max_entries')
    if any(params[name] < 0 for name in bounds):
        module.fail_json(msg='%s must be 0 (no bound) or more' % ', '.join(bounds))
    try:
        result = run(params['path'], repair=params['repair'], dry_run=module.check_mode,
                     quarantine_dir=params['quarantine_dir'], workers=params['jobs'], pool=params['pool'],
                     max_samples=params['max_samples'], lock_timeout=params['lock_timeout'],
                     record_dir=params['record_dir'] if params['record'] else None,
                     time_budget=params['time_budget'], max_file_bytes=params['max_file_size'],
                     max_entry_bytes=params['max_entry_size'], max_entries=params['max_entries'])
    except (ContentError, QuarantineError) as exc:
        module.fail_json(msg=str(exc))
    if params['fail_on_findings'] and result['remaining']:
        # paths come from the cache, which members write: escaped (a callback may print msg as it is)
        module.fail_json(msg='%d damaged cache entries remain (%s): %s' % (
            len(result['remaining']), ', '.join('%s=%d' % kv for kv in result['findings'].items()),
            ', '.join(printable(s['path']) for s in result['samples']
                      if s['kind'] not in ('unverifiable', 'changed', 'skipped', 'vanished'))[:2000]),
            **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
