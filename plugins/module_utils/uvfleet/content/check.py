# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Content check of a uv cache: every unpacked distribution against its own RECORD.

In uv 0.13 everything that gets installed from the cache is a directory of
``<cache>/archive-v0``: an unpacked wheel (``<name>.dist-info/RECORD`` at its
top) or a cached environment of ``uvx``/``uv run --with`` (a venv: ``pyvenv.cfg``
at its top, RECORDs in ``lib/python*/site-packages/*.dist-info``, their paths
relative to ``site-packages``, console scripts as ``../../../bin/NAME``).
``wheels-v*`` and ``sdists-v*`` point into ``archive-v0`` with symlinks.

Each entry is walked with the permission engine's walk (``walk.Walker.walk_task``:
directories entered with O_DIRECTORY|O_NOFOLLOW relative to their verified
parent).  Every regular file is opened with O_NOFOLLOW|O_NONBLOCK relative to
its parent's fd, its (st_dev, st_ino) checked against the scan, and streamed
through sha256 once (a fixed buffer: memory stays flat).  A file that changes
while it is hashed is reported as ``changed``, never judged; one that vanishes
is skipped.  Symlinks, fifos, sockets and devices are never opened.  After the
walk the entry's RECORD rows are compared with what was found.

Finding kinds (``KINDS``): the *bad* ones make an entry a quarantine candidate;
``error`` is reported; the informational ones are never counted as damage.
Entries are checked by a small pool of forked processes (default 2) or threads.
"""

from __future__ import absolute_import, division, print_function

import base64
import binascii
import csv
import errno
import hashlib
import io
import os
import posixpath
import stat
import time

from ..fs import walk

ARCHIVE = 'archive-v0'

# -- finding kinds -----------------------------------------------------------
MISSING = 'missing'                  # listed in RECORD, not there
WRONG_SIZE = 'wrong_size'            # listed size differs (the #6648 zero-length file)
WRONG_HASH = 'wrong_hash'            # same size, other sha256 (rewritten, poisoned, bit rot)
NOT_REGULAR = 'not_regular'          # a symlink, fifo, device or directory where RECORD lists a file
UNLISTED = 'unlisted'                # present, not in RECORD, not bytecode nor a file uv adds
RECORD_UNPARSABLE = 'record_unparsable'  # RECORD unreadable, not UTF-8, bad rows, hostile paths
ERROR = 'error'                      # could not be read (reported, not judged)
UNVERIFIABLE = 'unverifiable'        # entry without RECORD, or whose RECORD has no hashes
CHANGED = 'changed'                  # changed while hashed / swapped after the scan: not judged
VANISHED = 'vanished'                # gone while we looked (uv running): skipped

BAD = 'bad'
REPORT = 'report'
INFO = 'info'
KINDS = (
    (MISSING, BAD), (WRONG_SIZE, BAD), (WRONG_HASH, BAD), (NOT_REGULAR, BAD), (UNLISTED, BAD),
    (RECORD_UNPARSABLE, BAD), (ERROR, REPORT), (UNVERIFIABLE, INFO), (CHANGED, INFO), (VANISHED, INFO),
)
KIND_CLASS = dict(KINDS)
BAD_KINDS = frozenset(k for k, c in KINDS if c == BAD)

# -- bounds (a member may plant a hostile RECORD or a huge entry) -------------
MAX_RECORD_BYTES = 32 << 20
MAX_RECORD_ROWS = 500000
MAX_FILES_PER_ENTRY = 500000
BUFFER_SIZE = 256 << 10
_FADVISE_MIN = 1 << 20

_NOATIME = getattr(os, 'O_NOATIME', 0)
_HASH_ALGO = 'sha256'

# Files uv writes into a cached environment (a venv in archive-v0) that no RECORD lists.
_VENV_TOP = frozenset(('pyvenv.cfg', 'CACHEDIR.TAG', '.gitignore', '.lock'))
_VENV_BIN = frozenset(('activate', 'activate_this.py', 'deactivate.bat', 'pydoc.bat'))
_VENV_SITE = frozenset(('_virtualenv.pth', '_virtualenv.py'))


class ContentError(Exception):
    """The check cannot run (bad cache path, quarantine dir not safe, ...)."""


# -- RECORD ------------------------------------------------------------------

def parse_record(data, base=''):
    """Parse RECORD bytes; return (rows, problem).

    ``rows`` maps a path relative to the entry (``base`` is the RECORD's base
    directory in the entry: '' for a wheel, ``lib/python3.X/site-packages`` in
    a cached environment) to ``(digest or None, size or None)``; a digest is
    the raw sha256 (None: no hash, or another algorithm).  ``problem`` is None
    or the first reason the RECORD is not trustworthy (rows after a bad one
    are still parsed; bad rows are left out).
    """
    if len(data) > MAX_RECORD_BYTES:
        return {}, 'RECORD is larger than %d bytes' % MAX_RECORD_BYTES
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as exc:
        return {}, 'RECORD is not UTF-8 (byte %d)' % exc.start
    rows = {}
    problem = None
    reader = csv.reader(io.StringIO(text, newline=''))
    line = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            return rows, problem or 'RECORD line %d: %s' % (reader.line_num, exc)
        line = reader.line_num
        if not row:
            continue
        if len(rows) >= MAX_RECORD_ROWS:
            return rows, 'RECORD has more than %d rows' % MAX_RECORD_ROWS
        bad = _row_problem(row, base, rows)
        if bad is None:
            continue
        if isinstance(bad, tuple):
            rows[bad[0]] = bad[1]
        elif problem is None:
            problem = 'RECORD line %d: %s' % (line, bad)
    return rows, problem


def _row_problem(row, base, rows):
    """A (path, value) tuple for a good row, or the text of what is wrong with it."""
    if len(row) != 3:
        return 'expected path,hash,size, got %d fields' % len(row)
    path, digest_text, size_text = row
    if not path or '\x00' in path or path.startswith('/') or '\\' in path:
        return 'path %r is empty, absolute or not a POSIX path' % path[:200]
    rel = posixpath.normpath(posixpath.join(base, path))
    if rel == '..' or rel.startswith('../') or rel == '.':
        return 'path %r leaves the entry' % path[:200]
    if not base and '..' in path.split('/'):
        return 'path %r has a .. component' % path[:200]
    digest = None
    if digest_text:
        algo, sep, value = digest_text.partition('=')
        if not sep or not value:
            return 'hash %r is not ALGO=VALUE' % digest_text[:100]
        if algo == _HASH_ALGO:
            try:
                digest = base64.b64decode(value + '=' * (-len(value) % 4), altchars=b'-_', validate=True)
            except (binascii.Error, ValueError):
                return 'hash %r is not urlsafe base64' % digest_text[:100]
            if len(digest) != 32:
                return 'sha256 %r has %d bytes' % (digest_text[:100], len(digest))
    size = None
    if size_text:
        if not size_text.isdigit() or len(size_text) > 20:
            return 'size %r is not a number' % size_text[:40]
        size = int(size_text)
    if rel in rows:
        return 'path %r is listed twice' % path[:200]
    return (rel, (digest, size))


def record_base(sub, venv):
    """For a regular file ``sub`` (relative to the entry): its RECORD's base dir, or None if not a RECORD."""
    parts = sub.split('/')
    if parts[-1] != 'RECORD' or len(parts) < 2 or not parts[-2].endswith('.dist-info'):
        return None
    if len(parts) == 2:
        return ''
    if venv and len(parts) == 5 and parts[0] == 'lib' and parts[1].startswith('python') \
            and parts[2] == 'site-packages':
        return '/'.join(parts[:3])
    return None


def excepted(sub, venv, is_link):
    """True for a file no RECORD lists that is expected: bytecode, and what uv writes into a cached venv."""
    parts = sub.split('/')
    name = parts[-1]
    if not is_link and len(parts) > 1 and parts[-2] == '__pycache__' and name.endswith('.pyc'):
        return True
    if not venv:
        return False
    if len(parts) == 1:
        return (name in _VENV_TOP and not is_link) or (name == 'lib64' and is_link)
    if len(parts) == 2 and parts[0] == 'bin':
        if is_link:
            return name == 'python' or name.startswith('python3')
        return name in _VENV_BIN or name.startswith('activate.')
    return (len(parts) == 4 and parts[0] == 'lib' and parts[2] == 'site-packages'
            and name in _VENV_SITE and not is_link)


# -- hashing -----------------------------------------------------------------

OK = 'ok'


def hash_file(parent_fd, name, scan_st, buf=None):
    """Stream a regular file through sha256; return (status, digest, nbytes, detail).

    The file is opened O_NOFOLLOW|O_NONBLOCK relative to ``parent_fd`` and
    must be the scanned (st_dev, st_ino) and a regular file; it is never read
    otherwise.  Status: OK, CHANGED (swapped after the scan, or changed while
    hashed), VANISHED, ERROR.
    """
    flags = walk.FILE_FLAGS
    try:
        try:
            fd = os.open(name, flags | _NOATIME, dir_fd=parent_fd)
        except OSError as exc:
            if exc.errno != errno.EPERM or not _NOATIME:
                raise
            fd = os.open(name, flags, dir_fd=parent_fd)
    except OSError as exc:
        if walk.vanished_error(exc):
            return VANISHED, None, 0, ''
        if exc.errno in (errno.ELOOP, errno.ENXIO):
            return CHANGED, None, 0, 'replaced by a symlink or a special file after the scan'
        return ERROR, None, 0, exc.strerror or str(exc)
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode) or (before.st_dev, before.st_ino) != (scan_st.st_dev, scan_st.st_ino):
            return CHANGED, None, 0, 'replaced after the scan'
        if before.st_size >= _FADVISE_MIN and hasattr(os, 'posix_fadvise'):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        if buf is None:
            buf = bytearray(BUFFER_SIZE)
        view = memoryview(buf)
        digest = hashlib.sha256()
        update = digest.update
        readinto = os.readv
        total = 0
        while True:
            n = readinto(fd, [buf])
            if not n:
                break
            update(view[:n])
            total += n
        after = os.fstat(fd)
    except OSError as exc:
        return ERROR, None, 0, exc.strerror or str(exc)
    finally:
        os.close(fd)
    stamp_before = (before.st_size, before.st_mtime_ns, before.st_ctime_ns)
    if (after.st_size, after.st_mtime_ns, after.st_ctime_ns) != stamp_before or total != after.st_size:
        return CHANGED, None, total, 'changed while it was hashed'
    return OK, digest.digest(), total, ''


def read_small(parent_fd, name, scan_st, limit):
    """Read a regular file of at most ``limit`` bytes (a RECORD) safely; return (status, data, detail)."""
    try:
        fd = os.open(name, walk.FILE_FLAGS, dir_fd=parent_fd)
    except OSError as exc:
        if walk.vanished_error(exc):
            return VANISHED, None, ''
        return CHANGED if exc.errno in (errno.ELOOP, errno.ENXIO) else ERROR, None, exc.strerror or str(exc)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (scan_st.st_dev, scan_st.st_ino):
            return CHANGED, None, 'replaced after the scan'
        if st.st_size > limit:
            return OK, b'\0' * (limit + 1), ''
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        return ERROR, None, exc.strerror or str(exc)
    finally:
        os.close(fd)
    return OK, b''.join(chunks), ''


# -- one entry ---------------------------------------------------------------

def _type_name(mode):
    if stat.S_ISLNK(mode):
        return 'symlink'
    if stat.S_ISFIFO(mode):
        return 'fifo'
    if stat.S_ISSOCK(mode):
        return 'socket'
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return 'device'
    if stat.S_ISDIR(mode):
        return 'directory'
    return 'file'


class EntryResult(object):
    """What the check of one archive-v0 entry found (small, picklable)."""

    __slots__ = ('name', 'dev', 'ino', 'counts', 'samples', 'files', 'verified', 'unverifiable', 'bytes',
                 'bad', 'kind')

    def __init__(self, name):
        self.name = name
        self.dev = self.ino = None
        self.counts = {}
        self.samples = []
        self.files = 0
        self.verified = 0
        self.unverifiable = 0
        self.bytes = 0
        self.bad = False
        self.kind = 'wheel'

    def add(self, kind, sub, current='', expected='', max_samples=20):
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if KIND_CLASS[kind] == BAD:
            self.bad = True
        if self.counts[kind] <= max_samples:
            self.samples.append({'kind': kind, 'path': sub, 'current': current, 'expected': expected})


def check_entry(archive_fd, name, root_st, max_samples=20, buf=None):
    """Check one entry ``name`` of the open archive-v0 directory ``archive_fd``; return an EntryResult."""
    res = EntryResult(name)
    walker = walk.Walker(ARCHIVE)
    walker.root_stat = root_st
    prefix = '%s/%s/' % (ARCHIVE, name)
    cut = len(prefix)
    found = {}       # sub -> (status, digest, nbytes, mode)
    records = []     # (base, sub, data or None, status detail)
    gone = []        # prefixes of directories that vanished or were swapped during the walk
    dirs = set()
    venv = None
    if buf is None:
        buf = bytearray(BUFFER_SIZE)
    for event, pfd, fname, rel, st, extra in walker.walk_task(archive_fd, name, prefix[:-1], 2):
        sub = rel[cut:]
        if event == walk.DIR:
            if not sub:
                res.dev, res.ino = st.st_dev, st.st_ino
                try:
                    pst = os.stat('pyvenv.cfg', dir_fd=extra, follow_symlinks=False)
                    venv = stat.S_ISREG(pst.st_mode)
                except OSError:
                    venv = False
                if venv:
                    res.kind = 'environment'
            else:
                dirs.add(sub)
            continue
        if not sub:  # the entry itself vanished or was swapped
            res.add(VANISHED if event == walk.VANISHED else CHANGED, '', max_samples=max_samples)
            return res
        if event in (walk.VANISHED, walk.SWAPPED, walk.OTHER_FS, walk.TOO_DEEP, walk.ERROR):
            if event == walk.VANISHED:
                gone.append(sub + '/')
            elif event == walk.SWAPPED:
                gone.append(sub + '/')
                res.add(CHANGED, sub, 'swapped during the walk', max_samples=max_samples)
            else:
                res.add(ERROR, sub, event if extra is None else '%s: %s' % (event, extra), max_samples=max_samples)
            continue
        res.files += 1
        if res.files > MAX_FILES_PER_ENTRY:
            res.add(ERROR, '', 'more than %d files in one entry: not checked' % MAX_FILES_PER_ENTRY,
                    max_samples=max_samples)
            res.counts.pop(UNVERIFIABLE, None)
            return res
        if event != walk.FILE:
            found[sub] = (None, None, 0, st.st_mode)
            continue
        base = record_base(sub, venv)
        if base is not None:
            status, data, detail = read_small(pfd, fname, st, MAX_RECORD_BYTES)
            records.append((base, sub, data, status, detail))
            found[sub] = (status, None, 0, st.st_mode)
            continue
        status, digest, nbytes, detail = hash_file(pfd, fname, st, buf)
        res.bytes += nbytes
        found[sub] = (status, digest, nbytes, st.st_mode)
        if status == CHANGED:
            res.add(CHANGED, sub, detail, max_samples=max_samples)
        elif status == ERROR:
            res.add(ERROR, sub, detail, max_samples=max_samples)
    _judge(res, found, records, gone, dirs, venv, max_samples)
    return res


def _under(sub, prefixes):
    for p in prefixes:
        if sub.startswith(p):
            return True
    return False


def _judge(res, found, records, gone, dirs, venv, max_samples):
    listed = {}
    hashed_rows = 0
    for base, sub, data, status, detail in records:
        if status != OK:
            if status == VANISHED:
                continue
            res.add(CHANGED if status == CHANGED else ERROR, sub, detail, max_samples=max_samples)
            continue
        rows, problem = parse_record(data, base)
        if problem:
            res.add(RECORD_UNPARSABLE, sub, problem[:300], max_samples=max_samples)
        listed[sub] = (None, None)  # RECORD lists itself without a hash
        for path, value in rows.items():
            if path in listed and path != sub:
                res.add(RECORD_UNPARSABLE, sub, 'path %r is listed by two RECORDs' % path[:200],
                        max_samples=max_samples)
            listed[path] = value
            if value[0] is not None:
                hashed_rows += 1
    if not records or not hashed_rows:
        res.add(UNVERIFIABLE, '', 'no RECORD' if not records else 'RECORD has no hashes', max_samples=max_samples)
        res.unverifiable = res.files
        if not records:
            return
    for path, (digest, size) in listed.items():
        have = found.get(path)
        if have is None:
            if _under(path, gone):
                continue
            if path in dirs:
                res.add(NOT_REGULAR, path, 'directory', 'file', max_samples=max_samples)
            elif digest is not None or size is not None:
                res.add(MISSING, path, '', 'file', max_samples=max_samples)
            continue
        status, got, nbytes, mode = have
        if not stat.S_ISREG(mode):
            res.add(NOT_REGULAR, path, _type_name(mode), 'file', max_samples=max_samples)
            continue
        if status != OK:
            continue  # changed / vanished / error: reported already, not judged
        if digest is None:
            if hashed_rows:
                res.unverifiable += 1
            continue
        if size is not None and size != nbytes:
            res.add(WRONG_SIZE, path, str(nbytes), str(size), max_samples=max_samples)
        elif got != digest:
            res.add(WRONG_HASH, path, _b64(got), _b64(digest), max_samples=max_samples)
        else:
            res.verified += 1
    for path, have in found.items():
        if path in listed:
            continue
        mode = have[3]
        if excepted(path, venv, stat.S_ISLNK(mode)):
            if hashed_rows:
                res.unverifiable += 1
            continue
        if have[0] in (VANISHED, CHANGED, ERROR):
            continue
        res.add(UNLISTED, path, _type_name(mode), max_samples=max_samples)
        if hashed_rows:
            res.unverifiable += 1


def _b64(digest):
    return 'sha256=' + base64.urlsafe_b64encode(digest).rstrip(b'=').decode('ascii') if digest else ''


# -- the whole cache ---------------------------------------------------------

_POOL_STATE = {}


def _pool_check(name):
    state = _POOL_STATE
    buf = state.get('buf')
    if buf is None:
        buf = state['buf'] = bytearray(BUFFER_SIZE)
    return check_entry(state['archive_fd'], name, state['root_st'], state['max_samples'], buf)


def open_cache(cache):
    """Open ``cache`` and its archive-v0 without following symlinks; return (root_fd, root_st, archive_fd)."""
    walker = walk.Walker(cache)
    try:
        root_fd, root_st = walker.open_root()
    except OSError as exc:
        raise ContentError('cannot open the cache %s: %s (it must be a directory, not a symlink)'
                           % (cache, exc.strerror))
    try:
        archive_fd = os.open(ARCHIVE, walk.DIR_FLAGS, dir_fd=root_fd)
    except OSError as exc:
        os.close(root_fd)
        if walk.vanished_error(exc):
            return None, root_st, None
        raise ContentError('cannot open %s/%s: %s' % (cache, ARCHIVE, exc.strerror))
    if os.fstat(archive_fd).st_dev != root_st.st_dev:
        os.close(archive_fd)
        os.close(root_fd)
        raise ContentError('%s/%s is on another file system than the cache' % (cache, ARCHIVE))
    return root_fd, root_st, archive_fd


def list_entries(archive_fd):
    """Names of the directories in archive-v0 (sorted), and of anything else there."""
    names, others = [], []
    with os.scandir(archive_fd) as scan:
        for entry in scan:
            try:
                (names if entry.is_dir(follow_symlinks=False) else others).append(entry.name)
            except OSError:
                continue
    return sorted(names), sorted(others)


def check_cache(cache, workers=2, pool='process', max_samples=20):
    """Check every entry of ``<cache>/archive-v0``; return the result dict (see ``docs/content_check.md``)."""
    start = time.time()
    root_fd, root_st, archive_fd = open_cache(cache)
    entries = []
    others = []
    try:
        if archive_fd is not None:
            names, others = list_entries(archive_fd)
            entries = _run(archive_fd, root_st, names, workers, pool, max_samples)
    finally:
        if archive_fd is not None:
            os.close(archive_fd)
        if root_fd is not None:
            os.close(root_fd)
    return summarize(cache, entries, others, time.time() - start, max_samples)


def _run(archive_fd, root_st, names, workers, pool, max_samples):
    workers = max(1, int(workers or 1))
    if workers == 1 or len(names) < 2:
        buf = bytearray(BUFFER_SIZE)
        return [check_entry(archive_fd, n, root_st, max_samples, buf) for n in names]
    if pool == 'thread':
        from concurrent.futures import ThreadPoolExecutor  # pylint: disable=import-outside-toplevel
        import threading  # pylint: disable=import-outside-toplevel
        local = threading.local()

        def one(name):
            buf = getattr(local, 'buf', None)
            if buf is None:
                buf = local.buf = bytearray(BUFFER_SIZE)
            return check_entry(archive_fd, name, root_st, max_samples, buf)
        with ThreadPoolExecutor(max_workers=workers) as executor:
            return list(executor.map(one, names))
    import multiprocessing  # pylint: disable=import-outside-toplevel
    _POOL_STATE.clear()
    _POOL_STATE.update(archive_fd=archive_fd, root_st=root_st, max_samples=max_samples)
    context = multiprocessing.get_context('fork')
    with context.Pool(workers) as procs:
        # big first would balance better, but sizes are unknown before the walk: small chunks instead
        return list(procs.imap(_pool_check, names, chunksize=max(1, min(16, len(names) // (workers * 8)))))


def summarize(cache, entries, others, duration, max_samples=20):
    """The JSON-able report of a content check."""
    counts = {}
    samples = {}
    bad = []
    out = {'cache': cache, 'entries': len(entries), 'entries_bad': 0, 'entries_unverifiable': 0,
           'files': 0, 'files_verified': 0, 'files_unverifiable': 0, 'bytes_hashed': 0}
    for res in entries:
        for kind, n in res.counts.items():
            counts[kind] = counts.get(kind, 0) + n
        for sample in res.samples:
            bucket = samples.setdefault(sample['kind'], [])
            if len(bucket) < max_samples:
                sub = sample['path']
                path = posixpath.join(cache, ARCHIVE, res.name, sub) if sub else posixpath.join(cache, ARCHIVE,
                                                                                                res.name)
                bucket.append(dict(sample, path=path, entry=res.name))
        out['files'] += res.files
        out['files_verified'] += res.verified
        out['files_unverifiable'] += res.unverifiable
        out['bytes_hashed'] += res.bytes
        if UNVERIFIABLE in res.counts:
            out['entries_unverifiable'] += 1
        if res.bad:
            bad.append({'entry': res.name, 'dev': res.dev, 'ino': res.ino, 'kind': res.kind,
                        'findings': dict(res.counts), 'samples': res.samples[:max_samples]})
    out['entries_bad'] = len(bad)
    out['findings'] = dict((k, counts[k]) for k, _c in KINDS if counts.get(k))
    out['bad_findings'] = sum(v for k, v in counts.items() if k in BAD_KINDS)
    out['samples'] = [s for k, _c in KINDS for s in samples.get(k, ())][:max(0, max_samples) * len(KINDS)]
    out['bad_entries'] = bad
    out['not_entries'] = others[:max_samples]
    out['duration'] = round(duration, 3)
    out['mb_per_s'] = round(out['bytes_hashed'] / 1e6 / duration, 1) if duration > 0 else 0.0
    return out


def finding_counts(result):
    """Counts by finding kind of a check result, every kind present (zeros included): for metrics."""
    found = result.get('findings', {})
    counts = dict((kind, int(found.get(kind, 0))) for kind, _c in KINDS)
    counts['quarantined'] = len(result.get('quarantined', ()))
    return counts
