# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate, damage and restore a tree shaped like a shared uv cache (benchmark only).

Shape (per archive id, 101 entries)::

    ROOT/archive-v0/<21-char id>/                      dir
        <pkg>/                 19 files + 2 subdirs
        <pkg>/sub_a/           19 files
        <pkg>/sub_b/           19 files + 1 subdir
        <pkg>/sub_b/deep/      19 files
        <pkg>-1.0.dist-info/   19 files
    ROOT/wheels-v5/pypi/<pkg>/<pkg>-1.0-py3-none-any -> ../../../archive-v0/<id>
                                                       (one symlink per 10 ids)
    ROOT/.lock  ROOT/CACHEDIR.TAG  ROOT/.gitignore

so 1,000,000 entries are ~49,500 directories of 19 files under four levels of fan-out,
plus ~10,000 archive directories and ~1,000 symlinks.  Everything is compliant with
the default policy of ``uvfleet.uv.cache_perms``: group = the shared group, directories
2770 with the default ACL ``user::rwx,group::rwx,mask::rwx,other::---``, files 0660
(one in 19 is 0770).  The default ACL is set once on the root; every directory and file
below inherits it from the kernel as it is created, exactly as in a real shared cache
(so files carry an access ACL ``user::rw-,group::rwx,mask::rw-,other::---``).

Owners are numeric uids (no real users needed); the group must exist by name or GID.
Standard library only; run as root.

    python3 bench/tree.py generate /var/tmp/uvfleet-bench/t100k --entries 100000 --gid 4242
    python3 bench/tree.py damage   /var/tmp/uvfleet-bench/t100k --fraction 0.01
    python3 bench/tree.py restore  /var/tmp/uvfleet-bench/t100k
"""

from __future__ import absolute_import, division, print_function

import argparse
import errno
import json
import os
import random
import shutil
import stat
import struct
import sys
import time

ACCESS = 'system.posix_acl_access'
DEFAULT = 'system.posix_acl_default'
_UNDEF = 0xFFFFFFFF


def _acl_blob(user, group, mask, other):
    """Kernel xattr form of a four-entry ACL (version 2, sorted by tag)."""
    return struct.pack('<I', 2) + b''.join(
        struct.pack('<HHI', tag, perm, _UNDEF)
        for tag, perm in ((0x01, user), (0x04, group), (0x10, mask), (0x20, other)))


DEFAULT_ACL = _acl_blob(7, 7, 7, 0)            # u::rwx,g::rwx,m::rwx,o::---
DIR_ACCESS_ACL = _acl_blob(7, 7, 7, 0)         # what mkdir(0770) under it gives
FILE_ACCESS_ACL = {0o660: _acl_blob(6, 7, 6, 0), 0o770: _acl_blob(7, 7, 7, 0)}

IDS_PER_SYMLINK = 10
FILES_PER_DIR = 19
# Directories inside one archive id, parent before child.
SUBDIRS = ('{pkg}', '{pkg}/sub_a', '{pkg}/sub_b', '{pkg}/sub_b/deep', '{pkg}-1.0.dist-info')
FILE_NAMES = tuple(['_native.so'] + ['mod%02d.py' % i for i in range(1, FILES_PER_DIR)])
ENTRIES_PER_ID = 1 + len(SUBDIRS) * (1 + FILES_PER_DIR)   # 101
TOP_FILES = ('.lock', 'CACHEDIR.TAG', '.gitignore')
UIDS = (2001, 2002, 2003, 2004)
KINDS = ('file_0600', 'wrong_group', 'no_setgid', 'no_default_acl', 'world_rwx')


def manifest_path(root):
    """The manifest lives beside the tree, never inside it (it would be walked)."""
    return os.path.abspath(root).rstrip('/') + '.json'


def archive_id(i):
    """A deterministic 21-character id, spread like uv's random ones."""
    return format((i * 0x9E3779B97F4A7C15 + 0x1234567) % (1 << 84), '021x')


def pkg_name(i):
    return 'pkg%06d' % i


def file_mode(k):
    return 0o770 if k == 0 else 0o660


def uid_of(i):
    return UIDS[i % len(UIDS)]


def ids_for(entries):
    return max(1, entries // ENTRIES_PER_ID)


def count_entries(n_ids):
    """Entries under the root, the root included (what find prints)."""
    n_links = (n_ids + IDS_PER_SYMLINK - 1) // IDS_PER_SYMLINK
    # root, archive-v0, wheels-v5, wheels-v5/pypi, top files, per-id entries, per-link dir+link
    return 4 + len(TOP_FILES) + n_ids * ENTRIES_PER_ID + 2 * n_links


# ---------------------------------------------------------------------------
# entry addressing: every directory and file is computable from an index, so
# damage() and restore() never need a list of a million paths.

def n_dirs(n_ids):
    return n_ids * (1 + len(SUBDIRS))


def n_files(n_ids):
    return n_ids * len(SUBDIRS) * FILES_PER_DIR


def dir_entry(root, j):
    """(path, uid) of the j-th directory inside archive-v0 (id dir or one of its subdirs)."""
    i, sub = divmod(j, 1 + len(SUBDIRS))
    base = os.path.join(root, 'archive-v0', archive_id(i))
    if sub == 0:
        return base, uid_of(i)
    return os.path.join(base, SUBDIRS[sub - 1].format(pkg=pkg_name(i))), uid_of(i)


def file_entry(root, j):
    """(path, uid, mode) of the j-th regular file inside archive-v0."""
    i, rest = divmod(j, len(SUBDIRS) * FILES_PER_DIR)
    d, k = divmod(rest, FILES_PER_DIR)
    base = os.path.join(root, 'archive-v0', archive_id(i), SUBDIRS[d].format(pkg=pkg_name(i)))
    return os.path.join(base, FILE_NAMES[k]), uid_of(i), file_mode(k)


def top_dirs(root):
    return [root, os.path.join(root, 'archive-v0'), os.path.join(root, 'wheels-v5'),
            os.path.join(root, 'wheels-v5', 'pypi')]


# ---------------------------------------------------------------------------
# generation

#: the all-wrong tree: one user (uid and group ALLWRONG_ID) filled it with umask 022, so every
#: entry is wrong (group, mode, no setgid, no default ACL); see generate(..., allwrong=True)
ALLWRONG_ID = 2001


def _owner(i, allwrong):
    return (ALLWRONG_ID, ALLWRONG_ID) if allwrong else (uid_of(i), -1)


def _make_ids(root, first, last, allwrong=False):
    """Create archive ids [first, last) (runs in a worker process)."""
    os.umask(0o022 if allwrong else 0)
    dmode = 0o777 if allwrong else 0o770
    arch = os.path.join(root, 'archive-v0')
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_CLOEXEC', 0)
    for i in range(first, last):
        uid, ugid = _owner(i, allwrong)
        pkg = pkg_name(i)
        top = os.path.join(arch, archive_id(i))
        os.mkdir(top, dmode)          # setgid, group and default ACL come from the parent
        os.chown(top, uid, ugid)
        for sub in SUBDIRS:
            path = os.path.join(top, sub.format(pkg=pkg))
            os.mkdir(path, dmode)
            dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fchown(dfd, uid, ugid)
                for k, name in enumerate(FILE_NAMES):
                    fd = os.open(name, flags, (0o777 if k == 0 else 0o666) if allwrong else file_mode(k), dir_fd=dfd)
                    os.fchown(fd, uid, ugid)
                    os.close(fd)
            finally:
                os.close(dfd)
    return last - first


def _make_links(root, n_ids, allwrong=False):
    pypi = os.path.join(root, 'wheels-v5', 'pypi')
    for i in range(0, n_ids, IDS_PER_SYMLINK):
        uid, ugid = _owner(i, allwrong)
        d = os.path.join(pypi, pkg_name(i))
        os.mkdir(d, 0o755 if allwrong else 0o770)
        link = os.path.join(d, pkg_name(i) + '-1.0-py3-none-any')
        os.symlink(os.path.join('..', '..', '..', 'archive-v0', archive_id(i)), link)
        os.lchown(link, uid, ugid)
        os.chown(d, uid, ugid)


def generate(root, entries=1000000, gid=None, jobs=None, quiet=False, allwrong=False):
    """Create the tree; returns the manifest (also written beside the tree).

    ``allwrong``: the tree one user (ALLWRONG_ID) filled with umask 022 instead of the
    compliant one: directories 0755 without setgid or default ACL, files 0644/0755, all
    of group ALLWRONG_ID: every entry below the root is wrong.
    """
    if gid is None:
        raise ValueError('a gid is needed')
    if os.path.lexists(root):
        raise OSError(errno.EEXIST, 'refusing to overwrite an existing tree', root)
    n_ids = ids_for(entries)
    start = time.time()
    old = os.umask(0)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(root)), exist_ok=True)
        os.mkdir(root, 0o770)
        os.chown(root, 0, gid)
        os.chmod(root, 0o2770)
        acls = _set_acl(root, DEFAULT, DEFAULT_ACL) if not allwrong else False
        for d in top_dirs(root)[1:]:
            os.mkdir(d, 0o755 if allwrong else 0o770)
            if allwrong:
                os.chown(d, ALLWRONG_ID, ALLWRONG_ID)
        for name in TOP_FILES:
            os.close(os.open(os.path.join(root, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                             0o644 if allwrong else 0o660))
            if allwrong:
                os.chown(os.path.join(root, name), ALLWRONG_ID, ALLWRONG_ID)
        jobs = jobs or min(4, os.cpu_count() or 1)
        bounds = [n_ids * w // jobs for w in range(jobs + 1)]
        pids = []
        for w in range(jobs):
            pid = os.fork()
            if pid == 0:   # child: plain fork, no multiprocessing (works from any parent)
                code = 0
                try:
                    _make_ids(root, bounds[w], bounds[w + 1], allwrong)
                except BaseException:   # noqa: B902 - report and exit the child
                    import traceback
                    traceback.print_exc()
                    code = 1
                finally:
                    os._exit(code)
            pids.append(pid)
        _make_links(root, n_ids, allwrong)
        failed = [pid for pid in pids if os.waitpid(pid, 0)[1] != 0]
        if failed:
            raise RuntimeError('tree generation failed in %d worker(s)' % len(failed))
    finally:
        os.umask(old)
    manifest = {
        'root': os.path.abspath(root), 'n_ids': n_ids, 'entries': count_entries(n_ids),
        'dirs': n_dirs(n_ids), 'files': n_files(n_ids), 'gid': gid, 'acls': acls, 'allwrong': allwrong,
        'generated_s': round(time.time() - start, 2),
    }
    with open(manifest_path(root), 'w') as fh:
        json.dump(manifest, fh, indent=1)
    if not quiet:
        print('generated %(entries)d entries (%(n_ids)d archive ids) in %(generated_s)ss at %(root)s'
              % manifest, file=sys.stderr)
    return manifest


def load_manifest(root):
    with open(manifest_path(root)) as fh:
        return json.load(fh)


# ---------------------------------------------------------------------------
# damage and restore

def damage_plan(manifest, fraction=0.01, seed=20240607):
    """The reproducible list of (kind, 'd'|'f', index) to damage: fraction of all entries,
    split evenly over KINDS.  Directory-only kinds hit directories; wrong_group and
    world_rwx hit files and directories 4:1."""
    total = int(round(manifest['entries'] * fraction))
    per_kind = total // len(KINDS)
    rng = random.Random(seed)
    dirs_per_mixed = per_kind // 5
    want_dirs = 2 * per_kind + 2 * dirs_per_mixed
    want_files = per_kind + 2 * (per_kind - dirs_per_mixed)
    want_dirs = min(want_dirs, manifest['dirs'])
    want_files = min(want_files, manifest['files'])
    dirs = rng.sample(range(manifest['dirs']), want_dirs)
    files = rng.sample(range(manifest['files']), want_files)
    plan = []

    def take(pool, n, kind, typ):
        for _unused in range(min(n, len(pool))):
            plan.append((kind, typ, pool.pop()))

    take(files, per_kind, 'file_0600', 'f')
    take(files, per_kind - dirs_per_mixed, 'wrong_group', 'f')
    take(dirs, dirs_per_mixed, 'wrong_group', 'd')
    take(dirs, per_kind, 'no_setgid', 'd')
    take(dirs, per_kind, 'no_default_acl', 'd')
    take(files, per_kind - dirs_per_mixed, 'world_rwx', 'f')
    take(dirs, dirs_per_mixed, 'world_rwx', 'd')
    return plan


def damage(root, fraction=0.01, seed=20240607, wrong_gid=None):
    """Damage `fraction` of the entries, reproducibly; returns {kind: count}."""
    manifest = load_manifest(root)
    wrong_gid = manifest['gid'] + 1 if wrong_gid is None else wrong_gid
    counts = dict((k, 0) for k in KINDS)
    for kind, typ, j in damage_plan(manifest, fraction, seed):
        if typ == 'd':
            path, _uid = dir_entry(root, j)
            mode = 0o2770
        else:
            path, _uid, mode = file_entry(root, j)
        if kind == 'file_0600':
            os.chmod(path, 0o600)                    # also sets the ACL mask to ---
        elif kind == 'wrong_group':
            os.chown(path, -1, wrong_gid)
        elif kind == 'no_setgid':
            os.chmod(path, 0o770)
        elif kind == 'no_default_acl':
            try:
                os.removexattr(path, DEFAULT)
            except OSError as exc:
                if exc.errno not in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise
        elif kind == 'world_rwx':
            os.chmod(path, mode | 0o007)
        counts[kind] += 1
    return counts


def _set_acl(path, name, blob):
    """Set one ACL xattr; False (and nothing set) where the file system has no ACLs."""
    try:
        os.setxattr(path, name, blob)
    except OSError as exc:
        if exc.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        return False
    return True


def _reset(path, uid, gid, mode, access, default):
    os.lchown(path, uid, gid)
    if access is not None:
        _set_acl(path, ACCESS, access)
    os.chmod(path, mode)
    if default is not None:
        _set_acl(path, DEFAULT, default)


def restore(root, fraction=0.01, seed=20240607):
    """Put back the pristine state of every directory and of every file the damage plan
    touches (the repair methods compared only ever change those; fix-permissions also
    adds setuid to every directory).  Returns the number of entries reset."""
    manifest = load_manifest(root)
    gid = manifest['gid']
    acls = manifest.get('acls', True)
    dacl = DEFAULT_ACL if acls else None
    n = 0
    for path in top_dirs(root):
        _reset(path, 0, gid, 0o2770, DIR_ACCESS_ACL if acls and path != root else None, dacl)
        n += 1
    for j in range(manifest['dirs']):
        path, uid = dir_entry(root, j)
        _reset(path, uid, gid, 0o2770, DIR_ACCESS_ACL if acls else None, dacl)
        n += 1
    pypi = os.path.join(root, 'wheels-v5', 'pypi')
    for i in range(0, manifest['n_ids'], IDS_PER_SYMLINK):
        _reset(os.path.join(pypi, pkg_name(i)), uid_of(i), gid, 0o2770,
               DIR_ACCESS_ACL if acls else None, dacl)
        os.lchown(os.path.join(pypi, pkg_name(i), pkg_name(i) + '-1.0-py3-none-any'), uid_of(i), gid)
        n += 2
    for name in TOP_FILES:
        _reset(os.path.join(root, name), 0, gid, 0o660, FILE_ACCESS_ACL[0o660] if acls else None, None)
        n += 1
    for _kind, typ, j in damage_plan(manifest, fraction, seed):
        if typ == 'f':
            path, uid, mode = file_entry(root, j)
            _reset(path, uid, gid, mode, FILE_ACCESS_ACL[mode] if acls else None, None)
            n += 1
    return n


def remove(root):
    """Delete the tree and its manifest."""
    if os.path.lexists(root):
        shutil.rmtree(root)
    try:
        os.unlink(manifest_path(root))
    except OSError:
        pass


def check_pristine(root, limit=5):
    """Slow independent check (os.lstat + getxattr per entry) of the pristine state:
    returns up to `limit` deviations.  For testing this generator only."""
    manifest = load_manifest(root)
    gid = manifest['gid']
    bad = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for path in [dirpath] + [os.path.join(dirpath, n) for n in filenames]:
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                continue
            isdir = stat.S_ISDIR(st.st_mode)
            if st.st_gid != gid or st.st_mode & 0o7 or (isdir and not st.st_mode & 0o2000):
                bad.append((path, oct(st.st_mode), st.st_gid))
            elif isdir and manifest['acls'] and os.getxattr(path, DEFAULT) != DEFAULT_ACL:
                bad.append((path, 'default acl'))
            if len(bad) >= limit:
                return bad
    return bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    sub = ap.add_subparsers(dest='cmd')
    g = sub.add_parser('generate')
    g.add_argument('root')
    g.add_argument('--entries', type=int, default=1000000)
    g.add_argument('--gid', type=int, required=True)
    g.add_argument('--jobs', type=int, default=None)
    for name in ('damage', 'restore'):
        p = sub.add_parser(name)
        p.add_argument('root')
        p.add_argument('--fraction', type=float, default=0.01)
        p.add_argument('--seed', type=int, default=20240607)
    for name in ('remove', 'check'):
        sub.add_parser(name).add_argument('root')
    args = ap.parse_args(argv)
    if args.cmd == 'generate':
        generate(args.root, args.entries, args.gid, args.jobs)
    elif args.cmd == 'damage':
        print(json.dumps(damage(args.root, args.fraction, args.seed)))
    elif args.cmd == 'restore':
        print(restore(args.root, args.fraction, args.seed))
    elif args.cmd == 'remove':
        remove(args.root)
    elif args.cmd == 'check':
        bad = check_pristine(args.root)
        print(json.dumps(bad))
        return 1 if bad else 0
    else:
        ap.print_help()
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
