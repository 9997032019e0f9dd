# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exclusions (issue 7, hole 3): uv's lock files only, and never what is dangerous."""

from __future__ import absolute_import, division, print_function

import os

from holes_testlib import JOBS, run, places, forked
from perms_testlib import GID, STRANGER_UID, make_dir, make_file, mode_of, setfacl


def plant_lock_lookalikes(d, outside):
    j = os.path.join
    real = make_file(j(d, 'pkg.lock'), mode=0o666)  # what uv makes: left alone
    evil = make_file(j(d, 'evil.lock'), mode=0o4755)
    stash = make_dir(j(d, 'stash.lock'), mode=0o2777)
    inner = make_file(j(stash, 'payload'), mode=0o6777)
    os.mkfifo(j(d, 'pipe.lock'))
    os.symlink(j(outside, 'secret'), j(d, 'shadow.lock'))
    return real, evil, stash, inner


@JOBS
def test_lock_exclusion_matches_only_uv_lock_files(base, outside, forks, jobs):
    planted = [plant_lock_lookalikes(d, outside) for d in places(base)]
    n = len(planted)
    result = run(base, jobs, exclude_locks=['*.lock'])
    assert forked(forks, jobs)
    assert result['excluded'] == n
    assert result['fixed']['setuid_setgid'] == 2 * n
    assert result['fixed']['world_writable'] == 2 * n
    assert result['remaining'] == {'symlink_outside': n, 'special_file': n}
    for real, evil, stash, inner in planted:
        assert mode_of(real) == 0o666
        assert mode_of(evil) == 0o770 and mode_of(stash) == 0o2770 and mode_of(inner) == 0o770


@JOBS
def test_an_exclusion_never_hides_what_is_dangerous(base, outside, forks, jobs):
    ds = places(base)
    for d in ds:
        plant_lock_lookalikes(d, outside)
        builds = make_dir(os.path.join(d, 'builds-v0'), mode=0o755)
        make_file(os.path.join(builds, 'plain'), mode=0o600)  # harmless: stays excluded, unchanged
        make_file(os.path.join(builds, 'suid'), mode=0o4755)
        open_dir = make_dir(os.path.join(builds, 'open'), mode=0o777)
        make_file(os.path.join(open_dir, 'sgid'), mode=0o2755)
        os.mkfifo(os.path.join(builds, 'fifo'))
        os.symlink('/etc/shadow', os.path.join(builds, 'shadow'))
        acl = make_file(os.path.join(builds, 'acl'))
        setfacl('-m', 'u:%d:rw-' % STRANGER_UID, acl)
    n = len(ds)
    plain = os.path.join(ds[-1], 'builds-v0', 'plain')
    audit = run(base, jobs, repair=False, exclude=['*.lock', '*/builds-v*'])
    assert forked(forks, jobs)
    f = audit['findings']
    assert f['setuid_setgid'] == 4 * n  # evil.lock, stash.lock/payload, builds-v0/suid, builds-v0/open/sgid
    assert f['world_writable'] == 3 * n  # stash.lock/, builds-v0/open/, stash.lock/payload (6777)
    assert f['special_file'] == 2 * n and f['symlink_outside'] == 2 * n and f['acl_named'] == n
    result = run(base, jobs, exclude=['*.lock', '*/builds-v*'])
    assert result['remaining'] == {'symlink_outside': 2 * n, 'special_file': 2 * n}
    assert mode_of(plain) == 0o600 and os.stat(plain).st_gid == GID
