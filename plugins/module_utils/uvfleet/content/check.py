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

The RECORDs of an entry are read first (where uv's layouts put them), so that a
file whose size differs from its RECORD row, or that no RECORD lists, is judged
without reading it.  With a root-held record (``record.py``) every entry the
check has seen whole and sound before is also compared with what it held then:
uv never changes an entry after it made it, so a file rewritten together with
its RECORD line is ``rewritten``, a file planted after that first sight
``added``, one deleted ``removed``.

Bounds (``Limits``), against what a member can plant cheaply: a file larger than
``max_file_bytes`` (a sparse 8 TiB file costs her 12 KiB) or beyond
``max_entry_bytes`` in its entry is not hashed, the run stops hashing when its
``time_budget`` is used up, and at most ``max_entries`` entries are listed.  What
was not checked is a ``skipped`` finding with its reason and counted
(``result['unchecked']``, the metrics): never silence.  A size that differs from
RECORD or from the record needs no hashing and is judged in any case.  Holes are
never judged (compression on ZFS or btrfs and ``cp --sparse`` make sound files
sparse); the allocated size only describes a skipped file.

Finding kinds (``KINDS``): the *bad* ones make an entry a quarantine candidate;
``error`` and ``skipped`` are reported; the informational ones are never counted
as damage.  Entries are checked by a small pool of forked processes (default 2)
or threads; with a record, those looked at longest ago first, so that a run cut
short by its budget leaves the most recently looked at for the next one.
"""

from __future__ import absolute_import, division, print_function

import base64
import binascii
import csv
import errno
import fcntl
import hashlib
import io
import os
import posixpath
import stat
import time

from . import record as rec
from ..fs import walk
from ..perms import roots
from ..perms.errors import RefusedRoot

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
# against the root-held record of what the entry held when the check first saw it whole
REWRITTEN = 'rewritten'              # a file or symlink differs from the record (its RECORD line may match)
ADDED = 'added'                      # a file or symlink the entry did not have at first sight
REMOVED = 'removed'                  # a file or symlink the entry had at first sight, gone (RECORD may agree)
SKIPPED = 'skipped'                  # not checked: a limit or the time budget (reason in the sample)

BAD = 'bad'
REPORT = 'report'
INFO = 'info'
KINDS = (
    (MISSING, BAD), (WRONG_SIZE, BAD), (WRONG_HASH, BAD), (NOT_REGULAR, BAD), (UNLISTED, BAD),
    (RECORD_UNPARSABLE, BAD), (REWRITTEN, BAD), (ADDED, BAD), (REMOVED, BAD), (ERROR, REPORT), (SKIPPED, REPORT),
    (UNVERIFIABLE, INFO), (CHANGED, INFO), (VANISHED, INFO),
)
KIND_CLASS = dict(KINDS)
BAD_KINDS = frozenset(k for k, c in KINDS if c == BAD)

# -- bounds (a member may plant a hostile RECORD or a huge entry) -------------
MAX_RECORD_BYTES = 32 << 20
MAX_RECORD_ROWS = 500000
MAX_FILES_PER_ENTRY = 500000
#: defaults of Limits (docs/content_check.md): far above any real wheel, far below what a hole costs
DEFAULT_MAX_FILE_BYTES = 16 << 30
DEFAULT_MAX_ENTRY_BYTES = 64 << 30
DEFAULT_TIME_BUDGET = 6 * 3600
DEFAULT_MAX_ENTRIES = 500000
#: reasons of a skip
FILE_SIZE = 'file_size'              # one file larger than max_file_bytes
ENTRY_SIZE = 'entry_size'            # the entry's hashed bytes would pass max_entry_bytes
TIME_BUDGET = 'time_budget'          # the run's time budget is used up
ENTRY_COUNT = 'entry_count'          # archive-v0 holds more than max_entries names
SKIP_REASONS = (FILE_SIZE, ENTRY_SIZE, TIME_BUDGET, ENTRY_COUNT)
#: seconds a finding of removal waits for running uv cache prune/clean (the cache lock) before it stands
CONFIRM_WAIT = 5.0
BUFFER_SIZE = 256 << 10
_FADVISE_MIN = 1 << 20

_NOATIME = getattr(os, 'O_NOATIME', 0)
_HASH_ALGO = 'sha256'

# Files uv writes into a cached environment (a venv in archive-v0) that no RECORD lists.
_VENV_TOP = frozenset(('pyvenv.cfg', 'CACHEDIR.TAG', '.gitignore', '.lock'))
_VENV_BIN = frozenset(('activate', 'activate_this.py', 'deactivate.bat', 'pydoc.bat'))
_VENV_SITE = frozenset(('_virtualenv.pth', '_virtualenv.py'))
# ... of which these are never executed nor read by Python: not in the record (uv may write them again)
_VENV_UNRECORDED = frozenset(('CACHEDIR.TAG', '.gitignore', '.lock'))


class ContentError(Exception):
    """The check cannot run (bad cache path, quarantine dir not safe, ...)."""


class Limits(object):
    """What one run may cost (None or 0: no bound); ``start()`` fixes the deadline of the time budget."""

    __slots__ = ('max_file_bytes', 'max_entry_bytes', 'time_budget', 'max_entries', 'deadline')

    def __init__(self, max_file_bytes=DEFAULT_MAX_FILE_BYTES, max_entry_bytes=DEFAULT_MAX_ENTRY_BYTES,
                 time_budget=DEFAULT_TIME_BUDGET, max_entries=DEFAULT_MAX_ENTRIES):
        for name, value in (('max_file_bytes', max_file_bytes), ('max_entry_bytes', max_entry_bytes),
                            ('time_budget', time_budget), ('max_entries', max_entries)):
            if value is not None and value < 0:
                raise ContentError('%s must be 0 (no bound) or more, got %r' % (name, value))
        self.max_file_bytes = max_file_bytes or None
        self.max_entry_bytes = max_entry_bytes or None
        self.time_budget = time_budget or None
        self.max_entries = max_entries or None
        self.deadline = None

    def start(self):
        self.deadline = None if self.time_budget is None else time.monotonic() + self.time_budget
        return self

    def as_dict(self):
        return {'max_file_bytes': self.max_file_bytes or 0, 'max_entry_bytes': self.max_entry_bytes or 0,
                'time_budget': self.time_budget or 0, 'max_entries': self.max_entries or 0}


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


def hash_file(parent_fd, name, scan_st, buf=None, deadline=None):
    """Stream a regular file through sha256; return (status, digest, nbytes, detail).

    The file is opened O_NOFOLLOW|O_NONBLOCK relative to ``parent_fd`` and
    must be the scanned (st_dev, st_ino) and a regular file; it is never read
    otherwise.  Status: OK, CHANGED (swapped after the scan, or changed while
    hashed), VANISHED, ERROR, SKIPPED (``deadline``, a time.monotonic() value,
    passed while it was read: nbytes is what was read).
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
        clock = time.monotonic if deadline is not None else None
        while True:
            n = readinto(fd, [buf])
            if not n:
                break
            update(view[:n])
            total += n
            if clock is not None and clock() > deadline:
                return SKIPPED, None, total, 'time budget used up after %d of %d bytes' % (total, before.st_size)
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
    """Read a regular file of at most ``limit`` bytes (a RECORD) safely; return (status, data, detail).

    ``scan_st`` None: any regular file (not a symlink, never a fifo) is read.
    """
    try:
        fd = os.open(name, walk.FILE_FLAGS, dir_fd=parent_fd)
    except OSError as exc:
        if walk.vanished_error(exc):
            return VANISHED, None, ''
        return CHANGED if exc.errno in (errno.ELOOP, errno.ENXIO) else ERROR, None, exc.strerror or str(exc)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (
                scan_st is not None and (st.st_dev, st.st_ino) != (scan_st.st_dev, scan_st.st_ino)):
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

SIZED = 'sized'     # file status: size known, not read (its size or its listing already judges it)


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


def size_text(n):
    """A byte count for people: 8.0 TiB, 12.0 KiB, 512 B."""
    value = float(n)
    for unit in ('B', 'KiB', 'MiB', 'GiB', 'TiB'):
        if value < 1024 or unit == 'TiB':
            return '%d B' % n if unit == 'B' else '%.1f %s' % (value, unit)
        value /= 1024
    return '%d B' % n


class EntryResult(object):
    """What the check of one archive-v0 entry found (small, picklable).

    ``action`` says what the entry leaves in the root-held record: 'new' (first
    sight, whole and sound: ``blob``), 'refresh' (seen before, exactly as
    recorded), 'update' (seen before, sound, with what may change: bytecode; the
    fresh ``blob``), 'carry' (keep what was recorded: the entry is bad, or was
    not seen whole), 'drop' (the entry is gone), None (nothing: not recorded).
    """

    __slots__ = ('name', 'dev', 'ino', 'counts', 'samples', 'files', 'verified', 'unverifiable', 'bytes',
                 'bad', 'kind', 'skips', 'skipped_bytes', 'entry_skip', 'matched', 'action', 'blob', 'nrecorded')

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
        self.skips = {}
        self.skipped_bytes = 0
        self.entry_skip = None
        self.matched = 0
        self.action = None
        self.blob = None
        self.nrecorded = 0

    def add(self, kind, sub, current='', expected='', max_samples=20):
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if KIND_CLASS[kind] == BAD:
            self.bad = True
        if self.counts[kind] <= max_samples:
            self.samples.append({'kind': kind, 'path': sub, 'current': current, 'expected': expected})

    def skip(self, sub, reason, detail, size=0, max_samples=20):
        """A file (or, with sub '', what is left of the entry) not checked, and why."""
        self.skips[reason] = self.skips.get(reason, 0) + 1
        self.skipped_bytes += size
        self.add(SKIPPED, sub, detail, reason, max_samples=max_samples)


def _subdirs(fd, match, limit=MAX_FILES_PER_ENTRY):
    """Names of the subdirectories of the open directory ``fd`` that ``match`` (d_type, no stat; bounded)."""
    out = []
    try:
        with os.scandir(fd) as scan:
            for seen, entry in enumerate(scan):
                if seen >= limit:
                    break
                try:
                    if match(entry.name) and entry.is_dir(follow_symlinks=False):
                        out.append(entry.name)
                except OSError:
                    continue
    except OSError:
        pass
    return sorted(out)


def _open_subdir(fd, name):
    try:
        return os.open(name, walk.DIR_FLAGS, dir_fd=fd)
    except OSError:
        return None


def read_records(entry_fd, venv):
    """The RECORDs of an entry, read before its walk: ``{sub: (base, status, data, detail, st)}``.

    Only where uv's layouts put them (``record_base``): ``*.dist-info/RECORD`` at
    the top, and in a cached environment below ``lib/python*/site-packages``.
    Every directory is opened O_DIRECTORY|O_NOFOLLOW relative to the one before;
    a RECORD must be a regular file (a symlink or fifo named RECORD is not read:
    the walk reports it).
    """
    out = {}
    spots = [('', entry_fd, '', False)]
    if venv:
        lib = _open_subdir(entry_fd, 'lib')
        if lib is not None:
            for py in _subdirs(lib, lambda n: n.startswith('python')):
                pyfd = _open_subdir(lib, py)
                if pyfd is None:
                    continue
                site = _open_subdir(pyfd, 'site-packages')
                os.close(pyfd)
                if site is not None:
                    base = 'lib/%s/site-packages' % py
                    spots.append((base + '/', site, base, True))
            os.close(lib)
    try:
        for prefix, dfd, base, _own in spots:
            for dist in _subdirs(dfd, lambda n: n.endswith('.dist-info')):
                dist_fd = _open_subdir(dfd, dist)
                if dist_fd is None:
                    continue
                try:
                    try:
                        st = os.stat('RECORD', dir_fd=dist_fd, follow_symlinks=False)
                    except OSError:
                        continue
                    if not stat.S_ISREG(st.st_mode):
                        continue
                    status, data, detail = read_small(dist_fd, 'RECORD', st, MAX_RECORD_BYTES)
                    out[prefix + dist + '/RECORD'] = (base, status, data, detail, st)
                finally:
                    os.close(dist_fd)
    finally:
        for _prefix, dfd, _base, own in spots:
            if own:
                os.close(dfd)
    return out


def _listing(res, records, max_samples):
    """Parse the RECORDs read; return (rows by path relative to the entry, number of rows with a hash)."""
    listed = {}
    hashed_rows = 0
    for sub in sorted(records):
        base, status, data, detail, _st = records[sub]
        if status != OK:
            if status != VANISHED:
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
    return listed, hashed_rows


def _readlink(parent_fd, name):
    try:
        return OK, os.readlink(name, dir_fd=parent_fd)
    except OSError as exc:
        return (VANISHED if walk.vanished_error(exc) else CHANGED), None


def check_entry(archive_fd, name, root_st, max_samples=20, buf=None, limits=None, old=None, lock_fd=None):
    """Check one entry ``name`` of the open archive-v0 directory ``archive_fd``; return an EntryResult.

    ``old``: what the root-held record holds for the entry (``record.unpack``),
    None when it has none.  ``lock_fd``: the open cache root, whose ``.lock`` a
    finding of removal is confirmed under (uv's prune may be deleting the entry).
    """
    limits = limits or Limits()
    if limits.deadline is not None and time.monotonic() > limits.deadline:
        res = EntryResult(name)
        res.entry_skip = TIME_BUDGET
        res.skip('', TIME_BUDGET, 'not checked: the time budget of the run was used up', max_samples=max_samples)
        res.action = 'carry' if old is not None else None
        return res
    check = _EntryCheck(name, max_samples, buf, limits, old)
    decided = check.walk(archive_fd, root_st)
    return decided if decided is not None else check.conclude(archive_fd, lock_fd)


class _EntryCheck(object):
    """One entry checked: walked (``walk``: its top, its RECORDs, each link and file hashed), then judged
    (``conclude``).  ``found``: sub -> (status, digest or link target, size, mode) of what the walk met."""

    def __init__(self, name, max_samples, buf, limits, old):
        self.res = EntryResult(name)
        self.name = name
        self.max_samples = max_samples
        self.buf = bytearray(BUFFER_SIZE) if buf is None else buf
        self.deadline = limits.deadline
        self.max_file = limits.max_file_bytes
        self.max_entry = limits.max_entry_bytes
        self.old = old
        self.found = {}
        self.records = {}
        self.listed = {}
        self.hashed_rows = 0
        self.gone = []       # prefixes of directories that vanished or were swapped during the walk
        self.dirs = set()
        self.venv = None
        self.aborted = False

    def walk(self, archive_fd, root_st):
        """Walk the entry; an EntryResult when that already decides it (gone, too many files), else None."""
        res, ms = self.res, self.max_samples
        walker = walk.Walker(ARCHIVE)
        walker.root_stat = root_st
        prefix = '%s/%s/' % (ARCHIVE, self.name)
        cut = len(prefix)
        clock = time.monotonic
        events = walker.walk_task(archive_fd, self.name, prefix[:-1], 2)
        try:
            for event, pfd, fname, rel, st, extra in events:
                sub = rel[cut:]
                if event == walk.DIR:
                    if sub:
                        self.dirs.add(sub)
                    else:
                        self.top(extra, st)
                    continue
                if not sub:  # the entry itself vanished or was swapped
                    res.add(VANISHED if event == walk.VANISHED else CHANGED, '', max_samples=ms)
                    res.action = 'drop' if event == walk.VANISHED else ('carry' if self.old is not None else None)
                    return res
                if event in (walk.VANISHED, walk.SWAPPED, walk.OTHER_FS, walk.TOO_DEEP, walk.ERROR):
                    self.problem(event, sub, extra)
                    continue
                res.files += 1
                if res.files > MAX_FILES_PER_ENTRY:
                    res.add(ERROR, '', 'more than %d files in one entry: not checked' % MAX_FILES_PER_ENTRY, max_samples=ms)
                    res.counts.pop(UNVERIFIABLE, None)
                    res.action = 'carry' if self.old is not None else None
                    return res
                if self.deadline is not None and clock() > self.deadline:
                    self.aborted = True
                    break
                if event == walk.LINK:
                    self.link(pfd, fname, sub, st)
                elif event != walk.FILE:
                    self.found[sub] = (None, None, 0, st.st_mode)
                elif sub in self.records:
                    self.record_file(sub, st)
                elif not self.file(pfd, fname, sub, st):
                    self.aborted = True
                    break
        finally:
            events.close()
        return None

    def top(self, fd, st):
        """The entry's own directory: a venv or not, its RECORDs read, what they list."""
        res = self.res
        res.dev, res.ino = st.st_dev, st.st_ino
        try:
            pst = os.stat('pyvenv.cfg', dir_fd=fd, follow_symlinks=False)
            self.venv = stat.S_ISREG(pst.st_mode)
        except OSError:
            self.venv = False
        if self.venv:
            res.kind = 'environment'
        self.records = read_records(fd, self.venv)
        self.listed, self.hashed_rows = _listing(res, self.records, self.max_samples)

    def problem(self, event, sub, extra):
        """A directory of the entry vanished, was swapped, or could not be walked."""
        if event in (walk.VANISHED, walk.SWAPPED):
            self.gone.append(sub + '/')
        if event == walk.SWAPPED:
            self.res.add(CHANGED, sub, 'swapped during the walk', max_samples=self.max_samples)
        elif event != walk.VANISHED:
            self.res.add(ERROR, sub, event if extra is None else '%s: %s' % (event, extra), max_samples=self.max_samples)

    def link(self, pfd, fname, sub, st):
        status, target = _readlink(pfd, fname)
        self.found[sub] = (status, target, 0, st.st_mode)
        if status == CHANGED:
            self.res.add(CHANGED, sub, 'replaced while it was read', max_samples=self.max_samples)

    def record_file(self, sub, st):
        """A RECORD, read by ``top``: its digest is that of what was read, if it is still that file."""
        _base, status, data, _detail, rst = self.records[sub]
        if (rst.st_dev, rst.st_ino) != (st.st_dev, st.st_ino):
            self.found[sub] = (CHANGED, None, 0, st.st_mode)
            self.res.add(CHANGED, sub, 'RECORD replaced while the entry was read', max_samples=self.max_samples)
        elif status == OK and len(data) <= MAX_RECORD_BYTES:
            self.found[sub] = (OK, hashlib.new(_HASH_ALGO, data).digest(), len(data), st.st_mode)
        else:
            self.found[sub] = (status if status != OK else SIZED, None, st.st_size, st.st_mode)

    def file(self, pfd, fname, sub, st):
        """One regular file: judged by its size, skipped past a limit, or hashed.  False: the time budget ran out."""
        res, ms, found = self.res, self.max_samples, self.found
        if record_base(sub, self.venv) is not None:  # a RECORD that appeared after they were read
            found[sub] = (CHANGED, None, 0, st.st_mode)
            res.add(CHANGED, sub, 'RECORD appeared while the entry was read', max_samples=ms)
            return True
        size = st.st_size
        row = self.listed.get(sub)
        was = self.old.get(sub) if self.old is not None else None
        if (row is not None and row[1] is not None and row[1] != size) \
                or (self.hashed_rows and row is None and not excepted(sub, self.venv, False)) \
                or (was is not None and (was[0] != 'f' or was[1] != size)):
            # wrong size, unlisted, or not the size recorded: judged without reading a byte
            found[sub] = (SIZED, None, size, st.st_mode)
            return True
        reason = None
        if self.max_file is not None and size > self.max_file:
            reason, why = FILE_SIZE, 'larger than the limit of %s per file' % size_text(self.max_file)
        elif self.max_entry is not None and res.bytes + size > self.max_entry:
            reason, why = ENTRY_SIZE, 'the entry would pass its limit of %s hashed' % size_text(self.max_entry)
        if reason is not None:
            found[sub] = (SKIPPED, None, size, st.st_mode)
            res.skip(sub, reason, '%s (%s allocated): %s' % (size_text(size), size_text(st.st_blocks * 512), why),
                     size, max_samples=ms)
            return True
        status, digest, nbytes, detail = hash_file(pfd, fname, st, self.buf, self.deadline)
        res.bytes += nbytes
        if status == SKIPPED:
            found[sub] = (SKIPPED, None, size, st.st_mode)
            res.skip(sub, TIME_BUDGET, detail, size - nbytes, max_samples=ms)
            return False
        found[sub] = (status, digest, nbytes, st.st_mode)
        if status in (CHANGED, ERROR):
            res.add(status, sub, detail, max_samples=ms)
        return True

    def conclude(self, archive_fd, lock_fd):
        """The verdict on the walked entry, and what the record does with it (``res.action``)."""
        res, ms, old, found = self.res, self.max_samples, self.old, self.found
        if self.aborted:
            if not res.counts.get(SKIPPED):
                res.skip('', TIME_BUDGET, 'the time budget of the run was used up while the entry was read: not judged',
                         max_samples=ms)
            res.action = 'carry' if old is not None else None
            return res
        flagged = _judge(res, found, self.listed, self.hashed_rows, bool(self.records), self.gone, self.dirs, self.venv,
                         ms)
        same = old is not None and _compare(res, found, old, flagged, self.gone, self.venv, ms)
        if (res.counts.get(MISSING) or res.counts.get(REMOVED)) and not _still_there(archive_fd, self.name, res, lock_fd):
            gone_res = EntryResult(self.name)
            gone_res.add(VANISHED, '', 'removed while it was checked (uv cache prune or clean)', max_samples=ms)
            gone_res.action = 'drop'
            return gone_res
        whole = not self.gone and not any(res.counts.get(k) for k in (CHANGED, VANISHED, ERROR, SKIPPED)) \
            and all(have[0] in (OK, None) for have in found.values())
        if whole and not res.bad and same:
            res.action = 'refresh'   # as recorded: only the times of its line change
        elif whole and not res.bad:
            res.blob, res.nrecorded = _blob(found, self.venv)
            res.action = 'new' if old is None else 'update'
        else:
            res.action = 'carry' if old is not None else None
        return res


def _under(sub, prefixes):
    for p in prefixes:
        if sub.startswith(p):
            return True
    return False


def _judge(res, found, listed, hashed_rows, has_records, gone, dirs, venv, max_samples):
    """Compare what was found with the RECORD rows; return the paths that got a bad finding."""
    flagged = set()
    if not has_records or not hashed_rows:
        res.add(UNVERIFIABLE, '', 'no RECORD' if not has_records else 'RECORD has no hashes', max_samples=max_samples)
        res.unverifiable = res.files
        if not has_records:
            return flagged
    for path, (digest, size) in listed.items():
        have = found.get(path)
        if have is None:
            if _under(path, gone):
                continue
            if path in dirs:
                res.add(NOT_REGULAR, path, 'directory', 'file', max_samples=max_samples)
                flagged.add(path)
            elif digest is not None or size is not None:
                res.add(MISSING, path, '', 'file', max_samples=max_samples)
                flagged.add(path)
            continue
        status, got, nbytes, mode = have
        if not stat.S_ISREG(mode):
            res.add(NOT_REGULAR, path, _type_name(mode), 'file', max_samples=max_samples)
            flagged.add(path)
            continue
        if status in (SIZED, SKIPPED):
            if size is not None and size != nbytes:
                res.add(WRONG_SIZE, path, str(nbytes), str(size), max_samples=max_samples)
                flagged.add(path)
            continue  # skipped: reported already; sized with the listed size: the record judges it
        if status != OK:
            continue  # changed / vanished / error: reported already, not judged
        if digest is None:
            if hashed_rows:
                res.unverifiable += 1
            continue
        if size is not None and size != nbytes:
            res.add(WRONG_SIZE, path, str(nbytes), str(size), max_samples=max_samples)
            flagged.add(path)
        elif got != digest:
            res.add(WRONG_HASH, path, _b64(got), _b64(digest), max_samples=max_samples)
            flagged.add(path)
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
        flagged.add(path)
        if hashed_rows:
            res.unverifiable += 1
    return flagged


def _bytecode(sub):
    parts = sub.rsplit('/', 2)
    return len(parts) > 1 and parts[-2] == '__pycache__' and parts[-1].endswith('.pyc')


def _unrecorded(sub, venv):
    """Files no record keeps: what uv writes into a cached environment and nothing executes or reads."""
    return venv and sub in _VENV_UNRECORDED


def _now_kind(mode):
    if stat.S_ISREG(mode):
        return 'f'
    if stat.S_ISLNK(mode):
        return 'l'
    return 's'


def _compare(res, found, old, flagged, gone, venv, max_samples):
    """Compare what was found with the root-held record of the entry's first sight (bad kinds REWRITTEN, ADDED, REMOVED).

    A path with a RECORD finding is not judged twice.  Bytecode may go (Python
    writes it again) and, in a cached environment, appear (Python writes it
    there when the environment runs).  Returns True when the entry holds exactly
    what the record holds (its record need not be written again).
    """
    same = True
    for path, (kind, size, value) in old.items():
        if path in flagged or _unrecorded(path, venv):
            same = False
            continue
        have = found.get(path)
        if have is None:
            same = False
            if _under(path, gone) or _bytecode(path):
                continue
            res.add(REMOVED, path, '', _record_text(kind, size, value), max_samples=max_samples)
            continue
        status, got, nbytes, mode = have
        now = _now_kind(mode)
        if now != kind:
            res.add(REWRITTEN, path, _type_name(mode), _record_text(kind, size, value), max_samples=max_samples)
        elif kind == 'f':
            if status in (SIZED, SKIPPED) or (status == OK and nbytes != size):
                if nbytes != size:
                    res.add(REWRITTEN, path, '%d bytes' % nbytes, '%d bytes' % size, max_samples=max_samples)
            elif status == OK:
                if got.hex() != value:
                    res.add(REWRITTEN, path, _b64(got), _b64(bytes.fromhex(value)), max_samples=max_samples)
                else:
                    res.matched += 1
                    continue
        elif kind == 'l':
            if status == OK and got != value:
                res.add(REWRITTEN, path, 'symlink to %r' % got[:300], 'symlink to %r' % value[:300],
                        max_samples=max_samples)
            elif status == OK:
                res.matched += 1
                continue
        elif value != _type_name(mode):
            res.add(REWRITTEN, path, _type_name(mode), value, max_samples=max_samples)
        else:
            continue
        same = False
    for path, have in found.items():
        if path in old or _unrecorded(path, venv):
            continue
        same = False
        if path in flagged or have[0] in (VANISHED, CHANGED, ERROR):
            continue
        if venv and _bytecode(path):
            continue
        res.add(ADDED, path, _type_name(have[3]), 'not there at first sight', max_samples=max_samples)
    return same


def _record_text(kind, size, value):
    if kind == 'f':
        return '%d bytes, %s' % (size, _b64(bytes.fromhex(value)))
    if kind == 'l':
        return 'symlink to %r' % value[:300]
    return value


def _blob(found, venv):
    """The record of an entry seen whole and sound: (packed rows, number of rows)."""
    rows = []
    for path in sorted(found):
        if _unrecorded(path, venv):
            continue
        _status, value, nbytes, mode = found[path]
        kind = _now_kind(mode)
        if kind == 'f':
            rows.append([path, 'f', nbytes, value.hex()])
        elif kind == 'l':
            rows.append([path, 'l', 0, value])
        else:
            rows.append([path, 's', 0, _type_name(mode)])
    return rec.pack(rows), len(rows)


def _still_there(archive_fd, name, res, lock_fd):
    """Is the entry still the directory that was checked, once no uv cache prune/clean runs (True: the findings stand)?

    uv's prune and clean hold ``<cache>/.lock`` exclusively while they delete:
    with the lock shared (as any uv command holds it) no deletion is under way,
    and an entry that is still there was damaged, not being removed.  When the
    lock stays taken for CONFIRM_WAIT seconds, the entry is looked at anyway.
    """
    fd = None
    if lock_fd is not None:
        try:
            fd = os.open('.lock', walk.FILE_FLAGS, dir_fd=lock_fd)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                fd = None
        except OSError:
            fd = None
    try:
        if fd is not None:
            until = time.monotonic() + CONFIRM_WAIT
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() >= until:
                        break
                time.sleep(0.1)
        try:
            st = os.stat(name, dir_fd=archive_fd, follow_symlinks=False)
        except OSError:
            return False
        return stat.S_ISDIR(st.st_mode) and (st.st_dev, st.st_ino) == (res.dev, res.ino) and st.st_nlink > 0
    finally:
        if fd is not None:
            os.close(fd)


def _b64(digest):
    return 'sha256=' + base64.urlsafe_b64encode(digest).rstrip(b'=').decode('ascii') if digest else ''


# -- the whole cache ---------------------------------------------------------

_POOL_STATE = {}


def _check_task(state, task):
    """Check one (name, record location) task with the shared state of a run."""
    name, location = task
    old = None
    problem = None
    if location is not None:
        try:
            _first, old = rec.read_entry(state['record_fd'], location)
        except (OSError, ValueError) as exc:
            problem = str(exc)
    res = check_entry(state['archive_fd'], name, state['root_st'], state['max_samples'], state['buf'],
                      state['limits'], old, state['root_fd'])
    if problem is not None:
        res.add(ERROR, '', 'its record could not be read (%s): compared with RECORD only' % problem,
                max_samples=state['max_samples'])
        res.action, res.blob = 'carry', None
    return res


def _pool_check(task):
    state = _POOL_STATE
    if state.get('buf') is None:
        state['buf'] = bytearray(BUFFER_SIZE)
    return _check_task(state, task)


def open_cache(cache):
    """Open ``cache`` and its archive-v0 without following symlinks; return (root_fd, root_st, archive_fd).

    The cache is opened component by component from ``/`` and, like a root of
    the permission engine, its ancestors must be root's and not writable by
    anyone else (nobody can swap the tree root checks, records and moves from).
    """
    try:
        _norm, root_fd, root_st = roots.open_root(cache)
    except RefusedRoot as exc:
        raise ContentError('cannot open the cache %s: %s (it must be a directory, not a symlink)' % (cache, exc))
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
    names, others, _more = _list(archive_fd, None, None)
    return names, others


def _list(archive_fd, limit, deadline):
    """(directories, others, names beyond ``limit`` only counted); stops counting at the deadline."""
    names, others = [], []
    more = 0
    with os.scandir(archive_fd) as scan:
        for entry in scan:
            if limit is not None and len(names) + len(others) >= limit:
                more += 1
                if deadline is not None and more % 4096 == 0 and time.monotonic() > deadline:
                    break
                continue
            try:
                (names if entry.is_dir(follow_symlinks=False) else others).append(entry.name)
            except OSError:
                continue
    return sorted(names), sorted(others), more


def _other_result(archive_fd, name, max_samples):
    """A name in archive-v0 that is not a directory: uv makes only directories there (a symlink could send
    every install of the entry elsewhere).  Bad, and moved like an entry by the repair."""
    res = EntryResult(name)
    res.kind = 'other'
    try:
        st = os.stat(name, dir_fd=archive_fd, follow_symlinks=False)
    except OSError:
        res.add(VANISHED, '', max_samples=max_samples)
        res.action = 'drop'
        return res
    res.dev, res.ino = st.st_dev, st.st_ino
    current = _type_name(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        try:
            current = 'symlink to %r' % os.readlink(name, dir_fd=archive_fd)[:300]
        except OSError:
            pass
    res.add(NOT_REGULAR, '', current, 'directory', max_samples=max_samples)
    res.action = 'carry'
    return res


def check_cache(cache, workers=2, pool='process', max_samples=20, limits=None, record_dir=None, record_write=True):
    """Check every entry of ``<cache>/archive-v0``; return the result dict (see ``docs/content_check.md``).

    ``limits``: a Limits (default: the default bounds).  ``record_dir``: the
    directory of the root-held record (None: none is used); ``record_write``
    False (check mode) compares with it and saves nothing.
    """
    start = time.time()
    limits = (limits or Limits()).start()
    cache = os.path.normpath(os.path.abspath(cache))
    root_fd, root_st, archive_fd = open_cache(cache)
    store = None
    summary = Summary(cache, max_samples)
    names, others, more = [], [], 0
    try:
        if record_dir:
            store = rec.Store(record_dir, cache, root_st, write=record_write)
            try:
                store.open()
            except rec.RecordError as exc:
                store.close()
                raise ContentError(str(exc))
        if archive_fd is not None:
            names, others, more = _list(archive_fd, limits.max_entries, limits.deadline)
            if store is not None:
                names.sort(key=lambda n: (store.looked_at(n), n))
            tasks = [(n, store.location(n) if store is not None else None) for n in names]
            state = {'archive_fd': archive_fd, 'root_fd': root_fd, 'root_st': root_st, 'max_samples': max_samples,
                     'limits': limits, 'record_fd': store.fd if store is not None else None, 'buf': None}
            now = int(time.time())
            for res in _run(state, tasks, workers, pool):
                summary.add(res)
                if store is not None:
                    store.account(res, now)
            for name in others:
                res = _other_result(archive_fd, name, max_samples)
                summary.add(res)
                if store is not None:
                    store.account(res, now)
        if more:
            summary.skip_entries(ENTRY_COUNT, more, 'archive-v0 holds more than %d names: %d not checked'
                                 % (limits.max_entries, more))
        if store is not None:
            store.finish(set(names) | set(others), not more)
    finally:
        if store is not None:
            store.close()
        if archive_fd is not None:
            os.close(archive_fd)
        if root_fd is not None:
            os.close(root_fd)
    result = summary.result(others, time.time() - start)
    result['limits'] = limits.as_dict()
    result['record'] = store.summary() if store is not None else rec.off_summary()
    return result


def _run(state, tasks, workers, pool):
    """The EntryResults of the tasks, in their order (a generator: results are folded as they come)."""
    workers = max(1, int(workers or 1))
    if workers == 1 or len(tasks) < 2:
        state['buf'] = bytearray(BUFFER_SIZE)
        for task in tasks:
            yield _check_task(state, task)
        return
    if pool == 'thread':
        from concurrent.futures import ThreadPoolExecutor  # pylint: disable=import-outside-toplevel
        import threading  # pylint: disable=import-outside-toplevel
        local = threading.local()

        def one(task):
            if getattr(local, 'state', None) is None:
                local.state = dict(state, buf=bytearray(BUFFER_SIZE))
            return _check_task(local.state, task)
        with ThreadPoolExecutor(max_workers=workers) as executor:
            step = 256 * workers  # a bounded number of futures at a time, whatever the number of entries
            for first in range(0, len(tasks), step):
                yield from executor.map(one, tasks[first:first + step])
        return
    import multiprocessing  # pylint: disable=import-outside-toplevel
    _POOL_STATE.clear()
    _POOL_STATE.update(state)
    context = multiprocessing.get_context('fork')
    with context.Pool(workers) as procs:
        # big first would balance better, but sizes are unknown before the walk: small chunks instead
        yield from procs.imap(_pool_check, tasks, chunksize=max(1, min(16, len(tasks) // (workers * 8))))


class Summary(object):
    """The report of a content check, folded one EntryResult at a time (memory: bounded samples, bad entries)."""

    def __init__(self, cache, max_samples=20):
        self.cache = cache
        self.max_samples = max_samples
        self.counts = {}
        self.samples = {}
        self.bad = []
        self.skipped_files = dict((r, 0) for r in SKIP_REASONS if r != ENTRY_COUNT)
        self.skipped_entries = dict((r, 0) for r in (TIME_BUDGET, ENTRY_COUNT))
        self.skipped_bytes = 0
        self.out = {'cache': cache, 'entries': 0, 'entries_bad': 0, 'entries_unverifiable': 0,
                    'files': 0, 'files_verified': 0, 'files_unverifiable': 0, 'files_matched_record': 0,
                    'bytes_hashed': 0}

    def _sample(self, res, sample):
        bucket = self.samples.setdefault(sample['kind'], [])
        if len(bucket) < self.max_samples:
            sub = sample['path']
            path = posixpath.join(self.cache, ARCHIVE, res.name, sub) if sub else posixpath.join(
                self.cache, ARCHIVE, res.name)
            bucket.append(dict(sample, path=path, entry=res.name))

    def add(self, res):
        out = self.out
        if res.kind != 'other':
            out['entries'] += 1
        for kind, n in res.counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + n
        for sample in res.samples:
            self._sample(res, sample)
        out['files'] += res.files
        out['files_verified'] += res.verified
        out['files_unverifiable'] += res.unverifiable
        out['files_matched_record'] += res.matched
        out['bytes_hashed'] += res.bytes
        if UNVERIFIABLE in res.counts:
            out['entries_unverifiable'] += 1
        if res.entry_skip is not None:
            self.skipped_entries[res.entry_skip] += 1
        else:
            for reason, n in res.skips.items():
                self.skipped_files[reason] = self.skipped_files.get(reason, 0) + n
        self.skipped_bytes += res.skipped_bytes
        if res.bad:
            self.bad.append({'entry': res.name, 'dev': res.dev, 'ino': res.ino, 'kind': res.kind,
                             'findings': dict(res.counts), 'samples': res.samples[:self.max_samples]})

    def skip_entries(self, reason, count, detail):
        """Entries not looked at: counted, one sample."""
        self.skipped_entries[reason] += count
        self.counts[SKIPPED] = self.counts.get(SKIPPED, 0) + count
        bucket = self.samples.setdefault(SKIPPED, [])
        if len(bucket) < self.max_samples:
            bucket.append({'kind': SKIPPED, 'path': posixpath.join(self.cache, ARCHIVE), 'entry': '',
                           'current': detail, 'expected': reason})

    def result(self, others, duration):
        out = dict(self.out)
        max_samples = self.max_samples
        counts = self.counts
        bad = sorted(self.bad, key=lambda b: b['entry'])
        out['entries_bad'] = len(bad)
        out['findings'] = dict((k, counts[k]) for k, _c in KINDS if counts.get(k))
        out['bad_findings'] = sum(v for k, v in counts.items() if k in BAD_KINDS)
        out['samples'] = [s for k, _c in KINDS for s in self.samples.get(k, ())][:max(0, max_samples) * len(KINDS)]
        out['bad_entries'] = bad
        out['not_entries'] = list(others[:max_samples])
        out['unchecked'] = {'files': dict(self.skipped_files), 'entries': dict(self.skipped_entries),
                            'bytes': self.skipped_bytes}
        out['complete'] = not any(self.skipped_files.values()) and not any(self.skipped_entries.values())
        out['duration'] = round(duration, 3)
        out['mb_per_s'] = round(out['bytes_hashed'] / 1e6 / duration, 1) if duration > 0 else 0.0
        return out


def summarize(cache, entries, others, duration, max_samples=20):
    """The JSON-able report of a content check from a list of EntryResults."""
    summary = Summary(cache, max_samples)
    for res in entries:
        summary.add(res)
    return summary.result(others, duration)


def finding_counts(result):
    """Counts by finding kind of a check result, every kind present (zeros included): for metrics."""
    found = result.get('findings', {})
    counts = dict((kind, int(found.get(kind, 0))) for kind, _c in KINDS)
    counts['quarantined'] = len(result.get('quarantined', ()))
    return counts
