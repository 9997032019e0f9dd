# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pythons_tools/rmtree.py: root removes a tree members could write (a retired shared dir), and nothing else.

Each test plants what a member would: symlinks to root's files and directories, a
fifo, a hardlink to a file of root's, a tree deeper than the removal's open fds, a
mount, and a process of hers that keeps swapping directories for symlinks from a
working directory inside the tree while root removes it.
"""

from __future__ import absolute_import, division, print_function

import os
import stat
import subprocess
import time

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.pythons_tools import rmtree

from perms_testlib import GID, MEMBER_UID, bind_mount, make_dir, make_file, mkdirs_at


@pytest.fixture
def victim(base):
    """Root's files and directory outside the tree: none may be touched."""
    path = os.path.join(base, 'roots-data')
    os.mkdir(path, 0o700)
    files = [make_file(os.path.join(path, 'precious-%d' % i), mode=0o600, gid=0, data=b'root') for i in range(20)]
    return path, files


def intact(victim):
    path, files = victim
    return os.path.isdir(path) and all(open(f, 'rb').read() == b'root' for f in files)


def retired_tree(base):
    """base/parent (root 0755) / retired (what a collaborative past left): returns (parent, name, top)."""
    parent = os.path.join(base, 'parent')
    os.mkdir(parent)
    os.chmod(parent, 0o755)  # whatever the umask: the member's process must reach her dir
    top = make_dir(os.path.join(parent, 'python.retired-20261206T000000Z'))
    return parent, os.path.basename(top), top


def test_a_members_tree_goes_and_nothing_its_links_name(base, victim):
    parent, name, top = retired_tree(base)
    hers = make_dir(os.path.join(top, 'hers'), mode=0o700, uid=MEMBER_UID)     # beyond anyone but her and root
    make_file(os.path.join(hers, 'sitecustomize.py'), uid=MEMBER_UID)
    os.symlink(victim[0], os.path.join(hers, 'to-roots-dir'))
    os.symlink(victim[1][0], os.path.join(hers, 'to-roots-file'))
    os.link(victim[1][1], os.path.join(hers, 'hardlink-to-roots-file'))
    os.mkfifo(os.path.join(hers, 'fifo'))
    os.symlink('/nonexistent', os.path.join(top, 'dangling'))
    result = rmtree.remove(parent, name)
    assert result['done'] and result['left'] == 0 and not result['errors'], result
    assert os.listdir(parent) == []
    assert intact(victim)
    assert os.stat(victim[1][1]).st_nlink == 1   # only her name of it went


def test_a_tree_deeper_than_the_open_fds_goes_too(base):
    parent, name, top = retired_tree(base)
    fd = mkdirs_at(top, ['d%d' % i for i in range(rmtree.MAX_DEPTH * 3)], mode=0o2770, gid=GID)
    os.close(fd)
    result = rmtree.remove(parent, name)
    assert result['done'] and result['left'] == 0, result
    assert os.listdir(parent) == []


def test_the_tree_is_closed_to_members_before_anything_is_removed(base, monkeypatch):
    parent, name, top = retired_tree(base)
    make_file(os.path.join(top, 'f'))
    seen = []
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):
        st = os.stat(top)
        seen.append((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)))
        return real_unlink(path, *args, **kwargs)
    monkeypatch.setattr(os, 'unlink', unlink)
    assert rmtree.remove(parent, name)['done']
    assert seen == [(0, 0, 0o700)]


def _swapper(hers, victim, stop_at, ready):
    """A member's process with its working directory in her dir of the tree: swap each directory
    there for a symlink to root's directory, over and over (relative names: no path from outside needed)."""
    pid = os.fork()
    if pid:
        os.close(ready)  # the parent's copy: a child that dies early gives EOF, not a hang
        return pid
    try:
        os.setgroups([GID])
        os.setgid(GID)
        os.setuid(MEMBER_UID)
        os.chdir(hers)
        os.write(ready, b'x')
        os.close(ready)
        n = 0
        while time.time() < stop_at:
            try:
                names = os.listdir('.')
            except OSError:
                break
            for entry in names:
                if entry.startswith('x'):
                    continue
                try:
                    n += 1
                    os.rename(entry, 'x%d' % n)
                    os.symlink(victim, entry)
                except OSError:
                    pass
            for i in range(20):
                try:
                    os.mkdir('d%d-%d' % (n, i))
                    os.mkdir('d%d-%d/sub' % (n, i))
                except OSError:
                    pass
    finally:
        os._exit(0)


def test_a_member_swapping_directories_for_symlinks_while_root_removes_deletes_nothing_outside(base, victim):
    """Root's removal is fd-based: a directory swapped for a link is removed as the link."""
    for attempt in range(3):
        parent, name, top = retired_tree(base)
        hers = make_dir(os.path.join(top, 'hers'), mode=0o2770, uid=MEMBER_UID)
        for i in range(1000):
            sub = make_dir(os.path.join(hers, 'd%04d' % i), uid=MEMBER_UID, default_acl=False)
            make_file(os.path.join(sub, 'f'), uid=MEMBER_UID)
        read_end, write_end = os.pipe()
        swapper = _swapper(hers, victim[0], time.time() + 20, write_end)
        try:
            assert os.read(read_end, 1) == b'x', 'the member\'s process could not start in her directory'
            result = rmtree.remove(parent, name)
        finally:
            os.kill(swapper, 9)
            os.waitpid(swapper, 0)
            os.close(read_end)
        assert intact(victim), 'round %d: root deleted through a member\'s link' % attempt
        if not result['done']:   # she kept adding faster than root removed: the rest stays, closed to her
            st = os.stat(os.path.join(parent, name))
            assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o700), result
            assert rmtree.remove(parent, name)['done']
        assert os.listdir(parent) == []
        os.rmdir(parent)


def test_a_directory_moved_away_between_its_lstat_and_its_mount_probe_is_dealt_with_next_pass(base, victim, monkeypatch):
    """The interleaving the swap race hits now and then, made certain: the member renames her
    directory right after root's lstat saw it and puts a link to root's directory in its place."""
    parent, name, top = retired_tree(base)
    hers = make_dir(os.path.join(top, 'hers'), mode=0o2770, uid=MEMBER_UID)
    make_file(os.path.join(hers, 'f'), uid=MEMBER_UID)
    real_probe = rmtree.mounts.probe
    swapped = []

    def probe(dir_fd, name_):
        if name_ == 'hers' and not swapped:
            os.rename('hers', 'moved', src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            swapped.append(name_)
            try:
                return real_probe(dir_fd, name_)
            finally:
                os.symlink(victim[0], 'hers', dir_fd=dir_fd)
        return real_probe(dir_fd, name_)
    monkeypatch.setattr(rmtree.mounts, 'probe', probe)
    if rmtree.mounts.statx_func() is None:
        pytest.skip('no statx here: the probe is not made')
    result = rmtree.remove(parent, name)
    assert swapped and result['done'] and not result['errors'], result
    assert intact(victim) and os.listdir(parent) == []


def test_a_mount_inside_the_tree_is_not_entered(base, victim):
    parent, name, top = retired_tree(base)
    point = make_dir(os.path.join(top, 'mnt'))
    with bind_mount(victim[0], point):
        result = rmtree.remove(parent, name)
        assert not result['done'] and result['other_fs'] == 1, result
        assert intact(victim)
    assert rmtree.remove(parent, name)['done']


@pytest.mark.parametrize('mode,uid', [(0o777, 0), (0o775, 0), (0o755, MEMBER_UID)])
def test_a_parent_someone_else_can_change_is_refused(base, mode, uid):
    parent, name, top = retired_tree(base)
    os.chown(parent, uid, GID)
    os.chmod(parent, mode)
    with pytest.raises(rmtree.RemoveError, match='someone other than root'):
        rmtree.remove(parent, name)
    assert os.path.isdir(top)


def test_a_symlink_in_the_path_to_the_parent_is_refused(base):
    parent, name, top = retired_tree(base)
    link = os.path.join(base, 'link')
    os.symlink(parent, link)
    with pytest.raises(rmtree.RemoveError, match='symlink'):
        rmtree.remove(link, name)
    assert os.path.isdir(top)


def test_a_name_that_is_no_directory_is_removed_as_what_it_is(base, victim):
    parent = os.path.join(base, 'parent')
    os.mkdir(parent)
    os.chmod(parent, 0o755)
    os.symlink(victim[0], os.path.join(parent, 'x.retired-20261206T000000Z'))
    assert rmtree.remove(parent, 'x.retired-20261206T000000Z')['done']
    assert intact(victim) and os.listdir(parent) == []
    for bad in ('', '.', '..', 'a/b'):
        with pytest.raises(ValueError):
            rmtree.remove(parent, bad)


def test_names_in_the_report_are_escaped(base):
    """An entry root cannot remove (made immutable here) is reported by its name as escape.printable gives it:
    a member's newline, escape sequence or bidi override never reaches the play's output raw."""
    parent, name, top = retired_tree(base)
    odd = make_file(os.path.join(top, 'a\nb\x1b[31m\u202e'), uid=MEMBER_UID)
    if subprocess.call(['chattr', '+i', odd], stderr=subprocess.DEVNULL) != 0:
        pytest.skip('chattr +i does not work here')
    try:
        result = rmtree.remove(parent, name)
    finally:
        subprocess.call(['chattr', '-i', odd])
    assert not result['done'] and result['left'] == 1, result
    assert set(result['errors']) == {'a\\nb\\x1b[31m\\u202e: Operation not permitted'}, result
