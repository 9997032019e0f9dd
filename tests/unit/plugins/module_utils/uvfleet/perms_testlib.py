# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the engine tests: temporary trees as root, snapshots, an ACL-less mount."""

from __future__ import absolute_import, division, print_function

import base64
import contextlib
import fcntl
import hashlib
import os
import shutil
import stat
import struct
import subprocess
import tempfile
import time
import zipfile

import pytest

#: the checkout: bin/uvfleet and the node library plugins/module_utils/uvfleet/
COLLECTION = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', '..'))
NODE_COMMAND = os.path.join(COLLECTION, 'bin', 'uvfleet')
LIBRARY = os.path.join(COLLECTION, 'plugins', 'module_utils', 'uvfleet')

GID = 4343          # the shared group (numeric, need not exist)
OTHER_GID = 4344    # some other group
MEMBER_UID = 4242   # a uid the tests declare a member of GID
STRANGER_UID = 4545  # a uid that is not a member


#: kernel xattr form of u::rwx,g::rwx,m::rwx,o::--- (version 2; tag, perm, id entries)
STANDARD_DEFAULT_ACL = struct.pack('<I', 2) + b''.join(
    struct.pack('<HHI', tag, perm, 0xFFFFFFFF) for tag, perm in ((0x01, 7), (0x04, 7), (0x10, 7), (0x20, 0)))


def _acl_base():
    """A temporary base directory on a file system with POSIX ACLs (/tmp, else /var/tmp)."""
    for base in (tempfile.gettempdir(), '/var/tmp'):
        probe = tempfile.mkdtemp(prefix='perms-probe-', dir=base)
        try:
            os.getxattr(probe, 'system.posix_acl_default')
        except OSError as exc:
            if exc.errno == 61:  # ENODATA: supported
                return base
        finally:
            os.rmdir(probe)
    pytest.skip('no temporary directory with POSIX ACL support')
    return None


def temp_base():
    """A fresh temporary directory (mode 0755 root:root) on an ACL-capable file system.

    The trees the tests build there belong to root and the test group: a test that
    makes one needs root, and is skipped without it.
    """
    if os.geteuid() != 0:
        pytest.skip('needs root: the trees of the tests belong to root and the test group')
    path = tempfile.mkdtemp(prefix='perms-test-', dir=_acl_base())
    os.chmod(path, 0o755)
    return path


def root_only_base():
    """A fresh directory (0755 root:root, which others can reach): every ancestor root's and not
    writable by its group or others, as a directory root runs programs from must be (rootexec.py). /tmp does
    not qualify (sticky, world-writable). Needs root; the caller removes it (``cleanup``)."""
    if os.geteuid() != 0:
        pytest.skip('needs root: root runs programs only from directories only root can change')
    for parent in ('/var/lib', '/var/cache', '/opt'):
        chain, ok = parent, True
        while ok:
            st = os.lstat(chain)
            ok = stat.S_ISDIR(st.st_mode) and st.st_uid == 0 and not st.st_mode & 0o022
            if chain == '/':
                break
            chain = os.path.dirname(chain)
        if ok:
            path = tempfile.mkdtemp(prefix='uvfleet-test-', dir=parent)
            os.chmod(path, 0o755)
            return path
    pytest.skip('no directory here whose ancestors only root can change')
    return None


def cleanup(path):
    """Remove a test tree (mounts inside it included)."""
    with contextlib.suppress(OSError):
        for dirpath, _dirs, _files in os.walk(path):
            for name in os.listdir(dirpath):
                full = os.path.join(dirpath, name)
                if os.path.ismount(full):
                    subprocess.call(['umount', '-l', full])
    shutil.rmtree(path, ignore_errors=True)


def _drop_acl(target, name):
    try:
        os.removexattr(target, name)
    except OSError as exc:
        if exc.errno not in (61, 95):  # ENODATA, EOPNOTSUPP
            raise


def make_file(path, mode=0o660, gid=GID, uid=0, data=b'x'):
    """A regular file with exactly this mode and no access ACL (even under a default ACL)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, data)
    _drop_acl(fd, 'system.posix_acl_access')
    os.fchown(fd, uid, gid)
    os.fchmod(fd, mode)
    os.close(fd)
    return path


def make_dir(path, mode=0o2770, gid=GID, uid=0, default_acl=True):
    """A directory with exactly this mode, no access ACL, and the standard default ACL or none."""
    os.mkdir(path)
    _drop_acl(path, 'system.posix_acl_access')
    _drop_acl(path, 'system.posix_acl_default')
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    if default_acl:
        # what `setfacl -d -m u::rwx,g::rwx,m::rwx,o::--- path` writes (without a process per directory)
        os.setxattr(path, 'system.posix_acl_default', STANDARD_DEFAULT_ACL)
    return path


def setfacl(*args):
    subprocess.check_call(('setfacl',) + args)


def getfacl(path, default=False):
    """getfacl -n output as a sorted list of entry strings (no comments)."""
    args = ['getfacl', '-n', '-p', '-c']
    args.append('-d' if default else '-a')
    out = subprocess.check_output(args + [path], stderr=subprocess.DEVNULL).decode()
    return [line.strip() for line in out.splitlines() if line.strip() and not line.startswith('#')]


def good_tree(root):
    """A compliant tree: root, dirs, files, an executable, an inner symlink."""
    os.chown(root, 0, GID)
    os.chmod(root, 0o2770)
    setfacl('-d', '-m', 'u::rwx,g::rwx,m::rwx,o::---', root)
    make_dir(os.path.join(root, 'archive-v0'))
    make_dir(os.path.join(root, 'archive-v0', 'abc'))
    make_file(os.path.join(root, 'archive-v0', 'abc', 'mod.py'))
    make_file(os.path.join(root, 'archive-v0', 'abc', 'tool'), mode=0o770)
    make_dir(os.path.join(root, 'wheels-v5'))
    os.symlink('../archive-v0/abc', os.path.join(root, 'wheels-v5', 'pkg'))
    return root


def snapshot(path):
    """Everything a repair could change: lstat fields (not atime) and xattrs of every entry, not following links."""
    snap = {}

    def one(p):
        st = os.lstat(p)
        try:
            names = sorted(os.listxattr(p, follow_symlinks=False))
        except OSError:
            names = []
        xattrs = {}
        for name in names:
            try:
                xattrs[name] = os.getxattr(p, name, follow_symlinks=False)
            except OSError as exc:
                xattrs[name] = 'error %d' % exc.errno
        snap[p] = (st.st_mode, st.st_uid, st.st_gid, st.st_nlink, st.st_ino, st.st_size,
                   st.st_mtime_ns, st.st_ctime_ns, tuple(sorted(xattrs.items())))

    one(path)
    if os.path.isdir(path) and not os.path.islink(path):
        for dirpath, dirs, files in os.walk(path):
            for name in dirs + files:
                one(os.path.join(dirpath, name))
    return snap


def mode_of(path):
    return os.lstat(path).st_mode & 0o7777


@contextlib.contextmanager
def ramfs(path):
    """Mount a ramfs (no POSIX ACL support, but real ownership) at path."""
    os.makedirs(path, exist_ok=True)
    if subprocess.call(['mount', '-t', 'ramfs', 'ramfs', path], stderr=subprocess.DEVNULL) != 0:
        pytest.skip('cannot mount a ramfs here')
    try:
        yield path
    finally:
        subprocess.call(['umount', '-l', path])


def can_open_as(uid, gid, path, flags):
    """Can a process of this uid/gid (no supplementary groups) open path with flags?  A real fork, a real setuid."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            os.close(os.open(path, flags))
            code = 0
        except BaseException:  # noqa: B902 - the child reports through its exit status only
            code = 1
        finally:
            os._exit(code)
    return os.waitpid(pid, 0)[1] == 0


@contextlib.contextmanager
def xfs_reflink(path):
    """A loop-mounted XFS with reflink=1 at path (created), as the clone scenario uses."""
    image = path + '.img'
    os.makedirs(path)
    with open(image, 'wb') as handle:
        handle.truncate(320 << 20)
    if shutil.which('mkfs.xfs') is None or subprocess.call(['mkfs.xfs', '-q', '-m', 'reflink=1', image]) != 0 \
            or subprocess.call(['mount', '-o', 'loop', image, path], stderr=subprocess.DEVNULL) != 0:
        os.unlink(image)
        pytest.skip('no loop-mounted XFS with reflink here (xfsprogs, loop devices)')
    try:
        yield path
    finally:
        subprocess.call(['umount', '-l', path])
        os.unlink(image)


@contextlib.contextmanager
def bind_mount(source, target):
    """Bind-mount source on target (created): a second view of the same file system."""
    os.makedirs(target, exist_ok=True)
    if subprocess.call(['mount', '--bind', source, target], stderr=subprocess.DEVNULL) != 0:
        pytest.skip('cannot bind-mount here')
    try:
        yield target
    finally:
        subprocess.call(['umount', '-l', target])


@contextlib.contextmanager
def autofs_trigger(path):
    """A direct autofs mount on path whose daemon never answers: any lookup through it blocks.

    The daemon side is a pipe we keep open and never read (a catatonic mount would fail
    fast instead of blocking); the daemon's process group is that of a sleeping child, so
    that our own lookups are treated as a user's (they trigger the mount and wait).
    """
    os.makedirs(path, exist_ok=True)
    read_end, write_end = os.pipe()
    daemon = subprocess.Popen(['sleep', '3600'], start_new_session=True)
    try:
        opts = 'fd=%d,pgrp=%d,minproto=5,maxproto=5,direct' % (write_end, daemon.pid)
        if subprocess.call(['mount', '-t', 'autofs', '-o', opts, 'uvfleet-test', path], pass_fds=[write_end],
                           stderr=subprocess.DEVNULL) != 0:
            pytest.skip('cannot mount autofs here')
        try:
            yield path
        finally:
            subprocess.call(['umount', '-l', path])
    finally:
        os.close(write_end)
        os.close(read_end)
        daemon.kill()
        daemon.wait()


def account_change(argv, check=False):
    """Run groupadd, useradd, usermod, userdel or groupdel; again while the account files are locked.

    shadow's tools fail at once ("cannot lock /etc/group; try again later") when another
    process changes accounts: parallel workers (ansible-test's pytest-xdist) do.  Returns
    the exit code; check=True raises on failure instead.
    """
    for _attempt in range(200):
        proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        if proc.returncode == 0 or b'lock' not in proc.stderr:
            break
        time.sleep(0.05)
    if check and proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, argv, stderr=proc.stderr)
    return proc.returncode


#: held while a test's temporary group exists: parallel workers (ansible-test's pytest-xdist)
#: running tests that create the same group wait for each other instead of skipping
GROUP_LOCK = '/run/lock/uvfleet-test-groups.lock'


@contextlib.contextmanager
def temp_group(name, gid):
    """A real group (groupadd) for the duration of a test; fully numeric names included."""
    with open(GROUP_LOCK, 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if account_change(['groupadd', '-g', str(gid), name]) != 0:
            pytest.skip('cannot create group %s (GID %d)' % (name, gid))
        try:
            yield name
        finally:
            account_change(['groupdel', name])


def mkdirs_at(base, names, mode=0o2770, gid=GID):
    """Create a chain of directories below base through dir fds (works past PATH_MAX); returns the last fd."""
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    for name in names:
        os.mkdir(name, mode, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
        os.fchown(fd, 0, gid)
        os.fchmod(fd, mode)
    return fd


def install_node_command(prefix, shebang=None):
    """The node command as the shared role installs it: <prefix>/bin/uvfleet and the library's .py files
    in <prefix>/lib/uvfleet/lib/uvfleet/ (directories 0755); returns the script's path.

    ``shebang``: the first line to write instead of the script's own (the role writes the node's python3 -I).
    """
    script = os.path.join(prefix, 'bin', 'uvfleet')
    os.makedirs(os.path.dirname(script), exist_ok=True)
    with open(NODE_COMMAND) as src:
        text = src.read()
    if shebang is not None:
        text = shebang + '\n' + text.split('\n', 1)[1]
    with open(script, 'w') as dst:
        dst.write(text)
    os.chmod(script, 0o755)
    lib = os.path.join(prefix, 'lib', 'uvfleet', 'lib', 'uvfleet')
    for top, dirs, files in os.walk(LIBRARY):
        dirs[:] = [d for d in dirs if d != '__pycache__']
        target = os.path.join(lib, os.path.relpath(top, LIBRARY))
        os.makedirs(target, exist_ok=True)
        os.chmod(target, 0o755)
        for name in files:
            if name.endswith('.py'):
                shutil.copyfile(os.path.join(top, name), os.path.join(target, name))
    for path in (prefix, os.path.dirname(script), os.path.join(prefix, 'lib'), os.path.dirname(os.path.dirname(lib)),
                 os.path.dirname(lib)):
        os.chmod(path, 0o755)
    return script


def make_wheel(directory, name='tinypkg', version='1.0'):
    """A minimal pure-Python wheel with a console script."""
    files = {
        '%s/__init__.py' % name: b'VALUE = 42\ndef main():\n    print(VALUE)\n',
        '%s-%s.dist-info/METADATA' % (name, version): ('Metadata-Version: 2.1\nName: %s\nVersion: %s\n'
                                                       % (name, version)).encode(),
        '%s-%s.dist-info/WHEEL' % (name, version): b'Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n'
                                                   b'Tag: py3-none-any\n',
        '%s-%s.dist-info/entry_points.txt' % (name, version): ('[console_scripts]\n%s = %s:main\n'
                                                               % (name, name)).encode(),
    }
    record = '%s-%s.dist-info/RECORD' % (name, version)
    lines = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
        lines.append('%s,sha256=%s,%d' % (path, digest, len(data)))
    lines.append('%s,,' % record)
    files[record] = ('\n'.join(lines) + '\n').encode()
    path = os.path.join(directory, '%s-%s-py3-none-any.whl' % (name, version))
    with zipfile.ZipFile(path, 'w') as whl:
        for member, data in files.items():
            whl.writestr(member, data)
    return path
