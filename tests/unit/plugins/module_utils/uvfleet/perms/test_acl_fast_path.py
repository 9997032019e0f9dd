# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The walk's ACL fast path (``Walker.ok_acl``): compliant files are recognised without the engine, nothing else is.

The walk reads each regular file's access ACL itself, by bare name from the directory it
lists (made the working directory), and counts a file whose (mode, raw ACL, single link)
the engine has found compliant before.  A member's named entry, another mode, a second
link, or a symlink swapped in must still reach the engine; the process's working
directory is the same after the run.
"""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import engine
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import entries

from perms_testlib import GID, MEMBER_UID, STRANGER_UID, good_tree, make_dir, make_file, mode_of, setfacl

JOBS = pytest.mark.parametrize('jobs', [1, 2])
MANY = 300


def run(root, jobs, **kwargs):
    kwargs.setdefault('is_member', {MEMBER_UID})
    kwargs.setdefault('max_samples', 1000)
    return engine.run(root, GID, engine.Options(jobs=jobs, **kwargs))


def crowd(base):
    """A compliant tree with MANY compliant files in each of several directories."""
    good_tree(base)
    dirs = []
    for i in range(6):
        d = make_dir(os.path.join(base, 'archive-v0', 'w%d' % i))
        for k in range(MANY):
            make_file(os.path.join(d, 'f%03d.py' % k), uid=MEMBER_UID)
        dirs.append(d)
    return dirs


def entries_seen_by_the_engine(monkeypatch):
    seen = []
    real = entries.Entries.entry

    def counting(self, parent_fd, name, *args, **kwargs):
        seen.append(name)
        return real(self, parent_fd, name, *args, **kwargs)

    monkeypatch.setattr(entries.Entries, 'entry', counting)
    return seen


def test_compliant_files_are_counted_by_the_walk_without_the_engine(base, monkeypatch):
    crowd(base)
    seen = entries_seen_by_the_engine(monkeypatch)
    result = run(base, 1, repair=False)
    assert result['findings'] == {} and result['scanned'] > 6 * MANY
    # each distinct compliant state reaches the engine once; the rest are the walk's
    assert len([n for n in seen if n.startswith('f')]) < 10, len(seen)


@JOBS
def test_what_differs_from_a_compliant_state_still_reaches_the_engine(base, jobs):
    dirs = crowd(base)
    j = os.path.join
    setfacl('-m', 'u:%d:rw' % STRANGER_UID, j(dirs[0], 'f150.py'))            # a member's named entry
    os.chmod(j(dirs[1], 'f150.py'), 0o664)                                    # another mode
    os.link(j(dirs[2], 'f150.py'), j(dirs[2], 'second-name'))                 # a second link, same mode
    os.chown(j(dirs[3], 'f150.py'), MEMBER_UID, 0)                            # another group
    os.unlink(j(dirs[4], 'f150.py'))
    os.symlink('/etc/shadow', j(dirs[4], 'f150.py'))                          # a symlink in its place
    result = run(base, jobs, repair=False)
    kinds = sorted((s['kind'], os.path.relpath(s['path'], base)) for s in result['samples'])
    assert ('acl_named', 'archive-v0/w0/f150.py') in kinds
    assert ('others_perms', 'archive-v0/w1/f150.py') in kinds
    assert ('wrong_group', 'archive-v0/w3/f150.py') in kinds
    assert ('symlink_outside', 'archive-v0/w4/f150.py') in kinds
    # the hardlinked pair (a member's file, compliant) has no finding: exactly these two remain
    assert result['findings'].get('acl_named') == 1 and result['findings'].get('others_perms') == 1
    run(base, jobs)
    assert run(base, jobs, repair=False)['findings'] == {'symlink_outside': 1}
    assert mode_of(j(dirs[1], 'f150.py')) == 0o660


@JOBS
def test_the_working_directory_is_the_same_after_the_run(base, tmp_path, jobs):
    crowd(base)
    here = str(tmp_path)
    old = os.getcwd()
    os.chdir(here)
    try:
        run(base, jobs, repair=False)
        assert os.getcwd() == here
        os.chmod(os.path.join(base, 'archive-v0', 'w0', 'f001.py'), 0o664)
        run(base, jobs)
        assert os.getcwd() == here
    finally:
        os.chdir(old)
