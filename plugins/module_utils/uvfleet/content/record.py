# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Root's own record of the cache's unpacked entries: what each one held when the content check first saw it.

uv never changes an ``archive-v0`` entry once it made it: it unpacks into a
temporary directory of the cache root and renames that to ``archive-v0/<random
id>``.  So any later change of an entry is corruption or tampering, also when a
member rewrote a file *and* its RECORD line to match.  The content check keeps,
for every entry it has checked completely and found sound, the size and sha256
of each of its files and the target of each symlink, and compares the entry with
that record on every later run (``content.py``: kinds ``rewritten``, ``added``,
``removed``).  Trust on first use: what a member changed before the first check
that saw an entry is what gets recorded.

Where it lives: one file per cache (``cache-<sha256 of the cache path>.record``)
in a root-only directory outside the cache (default ``/var/lib/uvfleet/content``):
members cannot write it and ``uv cache prune`` never sees it.  The directory is
opened component by component without following a symlink, every ancestor must
be root's and not writable by anyone else, and it must not be the cache or be
inside it.  The record of one cache path is never read for another: the file
names the cache it belongs to.

The file (text, ASCII): a header line, one JSON line per entry
``[name, first_seen, last_verified, last_looked_at, files, blob]`` (``blob``:
base64 of zlib of the JSON list of ``[path, kind, size, value]``, value the sha256 in hex, the
target of a symlink or the type of a special file; null for an
entry the check looked at but could not record: bad, or not seen whole), and a
trailer with the count and the sha256 of everything before it.  The check takes
the entries it looked at longest ago first, so that a run its time budget cuts
short leaves the others for the next one, and entries a member made costly to
check cannot keep the rest from being checked.  It is read once per run into an index
(entry name -> offset), each entry's line is read by the worker that checks the
entry, and the new file is written while the check runs, to a temporary file
(O_EXCL, 0600) that is fsynced and renamed over the old one at the end: a crash
leaves the old record whole.  A record that does not read back whole is set
aside (``.unusable``) and the check starts afresh, and says so.  One run writes
at a time (an flock on ``<file>.lock``); a second run at the same time compares
with the last saved record and saves nothing.
"""

from __future__ import absolute_import, division, print_function

import base64
import errno
import fcntl
import hashlib
import json
import os
import stat
import time
import zlib

from ..fs import fileio
from ..fs import walk
from ..perms import roots
from ..perms.errors import RefusedRoot

DEFAULT_DIR = '/var/lib/uvfleet/content'
MAGIC = 'uvfleet-content-record'
VERSION = 1
#: one entry's line (an entry has at most content.MAX_FILES_PER_ENTRY files)
MAX_LINE = 128 << 20
#: the whole record: new entries beyond it are not recorded (and counted as such)
MAX_BYTES = 2 << 30
#: one entry's list, decompressed
MAX_BLOB = 256 << 20

#: states of a record in a run
CREATED = 'created'      # no record yet for this cache: every entry is seen for the first time
LOADED = 'loaded'        # read whole and used
RESET = 'reset'          # unusable (not whole, another cache's, another format): set aside, started afresh
BUSY = 'busy'            # another run holds it: compared with the last saved record, nothing saved
READ_ONLY = 'read_only'  # check mode: compared, nothing saved
ABSENT = 'absent'        # check mode and no record yet
OFF = 'off'              # not used (record: false, --no-record)

_CREATE = fileio.NEW_FLAGS


class RecordError(Exception):
    """The record directory cannot be used safely (the message says how to fix it)."""


def file_name(cache):
    """The record's file name for a cache path (one file per cache, never shared between caches)."""
    return 'cache-%s.record' % hashlib.sha256(cache.encode('utf-8', 'surrogateescape')).hexdigest()[:32]


def pack(rows):
    """An entry's rows ``[[path, kind, size, value], ...]`` as the ASCII text stored in its line."""
    data = json.dumps(rows, separators=(',', ':')).encode('ascii')
    return base64.b64encode(zlib.compress(data, 1)).decode('ascii')


def unpack(text):
    """The rows of ``pack`` as a dict ``path -> (kind, size, value)``; ValueError when damaged."""
    try:
        inflater = zlib.decompressobj()
        data = inflater.decompress(base64.b64decode(text.encode('ascii'), validate=True), MAX_BLOB)
        if inflater.unconsumed_tail:
            raise ValueError('entry record larger than %d bytes' % MAX_BLOB)
        rows = json.loads(data.decode('ascii'))
    except (zlib.error, UnicodeError, TypeError, ValueError) as exc:
        raise ValueError('damaged entry record: %s' % exc)
    out = {}
    for row in rows:
        if not isinstance(row, list) or len(row) != 4:
            raise ValueError('damaged entry record: a row is not [path, kind, size, value]')
        out[row[0]] = (row[1], row[2], row[3])
    return out


def _read_line(fd, offset, length):
    data = os.pread(fd, length, offset)
    if len(data) != length:
        raise ValueError('record file shorter than its index')
    return json.loads(data.decode('ascii'))


def read_entry(fd, location):
    """``(first_seen, rows)`` of one entry's line at ``location`` (offset, length) of the open record ``fd``."""
    line = _read_line(fd, location[0], location[1])
    return line[1], unpack(line[5])


def dir_check(directory, cache_st):
    """open_path's check for a directory root keeps state in: ancestors root's only, never the cache or inside it."""
    ancestors = roots.ancestor_check(directory)

    def check(parent_path, parent_st, name, st):
        if cache_st is not None and (st.st_dev, st.st_ino) == (cache_st.st_dev, cache_st.st_ino):
            raise RecordError('it is the cache or inside it (%s/%s): uv cache prune would delete it and members '
                              'could write it' % ((parent_path or '').rstrip('/'), name))
        ancestors(parent_path, parent_st, name, st)
    return check


def read_index(fd, cache):
    """Read the record open at ``fd`` (of the cache ``cache``) whole: ``(index, length)``, or a str, what is wrong
    with it.  ``index``: name -> (offset, length, first_seen, verified, looked_at, has rows) of each entry's line;
    ``length``: the bytes of the header and the lines (the trailer left out)."""
    digest = hashlib.sha256()
    offset = 0
    index = {}
    with os.fdopen(os.dup(fd), 'rb') as handle:
        header = handle.readline(MAX_LINE)
        try:
            head = json.loads(header.decode('ascii'))
        except (UnicodeError, ValueError):
            return 'no header'
        if not isinstance(head, dict) or head.get('format') != MAGIC or head.get('version') != VERSION:
            return 'not a record of format %s %d' % (MAGIC, VERSION)
        if head.get('cache') != cache:
            return 'it is the record of another cache (%r)' % (head.get('cache'),)
        digest.update(header)
        offset = len(header)
        while True:
            line = handle.readline(MAX_LINE)
            if not line.endswith(b'\n'):
                return 'cut short at byte %d' % offset
            if line.startswith(b'{'):
                try:
                    tail = json.loads(line.decode('ascii'))
                except (UnicodeError, ValueError):
                    return 'damaged trailer'
                if tail.get('entries') != len(index) or tail.get('sha256') != digest.hexdigest():
                    return 'its checksum or count does not match its content'
                if handle.read(1):
                    return 'data after the trailer'
                break
            try:
                item = json.loads(line.decode('ascii'))
                if len(item) != 6:
                    raise ValueError(len(item))
                name, first, verified, looked = item[0], int(item[1]), int(item[2]), int(item[3])
            except (UnicodeError, ValueError, TypeError, IndexError):
                return 'damaged line at byte %d' % offset
            if name in index:
                return 'entry listed twice'
            index[name] = (offset, len(line), first, verified, looked, item[5] is not None)
            digest.update(line)
            offset += len(line)
    return index, offset


class Store(object):
    """The record of one cache, for one run: read the old one, write the new one beside it."""

    def __init__(self, directory, cache, cache_st, write=True):
        self.directory = os.path.normpath(os.path.abspath(directory))
        self.cache = cache
        self.name = file_name(cache)
        self.path = os.path.join(self.directory, self.name)
        self.cache_st = cache_st
        self.write = write
        self.state = None
        self.reason = ''
        self.dir_fd = None
        self.lock_fd = None
        self.fd = None            # the old record, read-only
        self.index = {}           # name -> (offset, length, first_seen, verified, looked_at, has rows)
        self.out = None           # the new record being written (fd), its name and running sha256
        self.tmp = None
        self.digest = None
        self.written = 0
        self.old_bytes = 0        # the old record's entries: what the new one holds at most of them
        self.added = 0            # bytes of lines for entries the old record did not hold
        self.lines = 0
        self.saved = False
        self.counts = {'known': 0, 'first_seen': 0, 'unrecorded': 0, 'dropped': 0, 'carried': 0}
        self.handled = set()

    # -- opening -----------------------------------------------------------------------------
    def open(self):
        """Open the directory (create it when writing), take the lock, read the old record."""
        checking_only = not self.write
        try:
            self.dir_fd, st = walk.open_path(self.directory, dir_check(self.directory, self.cache_st),
                                             create=0o700 if self.write else None)
        except RefusedRoot as exc:
            raise RecordError('record directory %s refused: %s' % (self.directory, exc))
        except RecordError as exc:
            raise RecordError('record directory %s refused: %s' % (self.directory, exc))
        except OSError as exc:
            if not self.write and exc.errno == errno.ENOENT:
                self.state = ABSENT
                return self
            raise RecordError('cannot open the record directory %s: %s (it must be a directory, not a symlink)'
                              % (self.directory, exc.strerror))
        problem = None
        if st.st_uid != os.geteuid():
            problem = 'belongs to uid %d, not to uid %d' % (st.st_uid, os.geteuid())
        elif stat.S_IMODE(st.st_mode) & 0o077:
            problem = 'has mode %04o: group and others must have no access' % stat.S_IMODE(st.st_mode)
        if problem:
            self.close()
            raise RecordError('the record directory %s %s; fix it (root-owned, mode 0700, outside the cache) or '
                              'choose another one' % (self.directory, problem))
        if self.write:
            self._lock()
        self._load()
        if checking_only and self.state == LOADED:
            self.state = READ_ONLY
        if self.write:
            self._begin()
        return self

    def _lock(self):
        fd = os.open(self.name + '.lock', fileio.LOCK_FLAGS | os.O_CREAT, 0o600, dir_fd=self.dir_fd)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise RecordError('%s.lock in the record directory is not a regular file; remove it' % self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            self.write = False
            self.state = BUSY
            self.reason = 'another content check of this cache holds the record: compared with it, nothing saved'
            return
        self.lock_fd = fd
        # left by a run that was killed (the lock says no run is writing now)
        prefix = '.%s.' % self.name
        with os.scandir(self.dir_fd) as scan:
            stale = [e.name for e in scan if e.name.startswith(prefix) and e.name.endswith('.tmp')]
        for name in stale:
            try:
                os.unlink(name, dir_fd=self.dir_fd)
            except OSError:
                pass

    def _load(self):
        try:
            fd = os.open(self.name, walk.FILE_FLAGS, dir_fd=self.dir_fd)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise RecordError('cannot open the record %s: %s' % (self.path, exc.strerror))
            self.state = self.state or (CREATED if self.write else ABSENT)
            return
        st = os.fstat(fd)
        problem = None
        if not stat.S_ISREG(st.st_mode):
            problem = 'not a regular file'
        elif st.st_uid != os.geteuid() or stat.S_IMODE(st.st_mode) & 0o077 or st.st_nlink != 1:
            problem = 'owner uid %d, mode %04o, %d links: not root-only' % (
                st.st_uid, stat.S_IMODE(st.st_mode), st.st_nlink)
        else:
            loaded = read_index(fd, self.cache)
            if isinstance(loaded, tuple):
                self.index, self.old_bytes = loaded
            else:
                problem = loaded
        if problem is None:
            self.fd = fd
            self.state = self.state or LOADED
            return
        os.close(fd)
        self.index = {}
        self.reason = 'the record %s was unusable (%s): every entry is seen for the first time again' % (
            self.path, problem)
        if self.write:
            try:
                os.rename(self.name, self.name + '.unusable', src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
                self.reason += '; set aside as %s.unusable' % self.path
            except OSError:
                pass
            self.state = RESET
        elif self.state is None:
            self.state = RESET

    # -- reading ------------------------------------------------------------------------------
    def location(self, name):
        """(offset, length) of an entry's line in the old record, or None (no record of what it held)."""
        item = self.index.get(name)
        return None if item is None or not item[5] else item[:2]

    def looked_at(self, name):
        """When the check last looked at the entry (0: never): the check takes the oldest first."""
        item = self.index.get(name)
        return 0 if item is None else item[4]

    # -- writing ------------------------------------------------------------------------------
    def _begin(self):
        if not self.write:
            return
        self.tmp = '.%s.%d.tmp' % (self.name, os.getpid())
        self.out = os.open(self.tmp, _CREATE, 0o600, dir_fd=self.dir_fd)
        os.fchmod(self.out, 0o600)
        self.digest = hashlib.sha256()
        head = {'format': MAGIC, 'version': VERSION, 'cache': self.cache, 'written': int(time.time())}
        self._put((json.dumps(head, sort_keys=True) + '\n').encode('ascii'))

    def _put(self, data):
        self.digest.update(data)
        self.written += len(data)
        view = memoryview(data)
        while view:
            view = view[os.write(self.out, view):]

    def account(self, res, now):
        """Write what one checked entry (content.EntryResult) leaves in the record; count it."""
        name = res.name
        self.handled.add(name)
        old = self.index.get(name)
        known = old is not None and old[5]
        if res.action == 'drop':
            if known:
                self.counts['dropped'] += 1
            return
        if res.entry_skip is not None:  # not looked at: its line stays as it was
            self.counts['carried' if known else 'unrecorded'] += 1
            if old is not None:
                self._copy(old)
            return
        if known:
            self.counts['known'] += 1
        if res.action in ('new', 'update') and res.blob is not None:
            if self._line([name, old[2] if known else now, now, now, res.nrecorded, res.blob], bounded=not known):
                if not known:
                    self.counts['first_seen'] += 1
                return
        if known:
            line = _read_line(self.fd, old[0], old[1])
            if res.action == 'refresh':   # verified, exactly as recorded
                line[2] = now
            else:
                self.counts['carried'] += 1
            line[3] = now
            self._line(line)
            return
        self.counts['unrecorded'] += 1
        self._line([name, 0, 0, now, 0, None], bounded=True)  # looked at, nothing recorded: goes last next time

    def _line(self, line, bounded=False):
        """Write one entry's line; with ``bounded``, not when the record would pass MAX_BYTES (False then)."""
        data = (json.dumps(line, separators=(',', ':')) + '\n').encode('ascii')
        if bounded:
            if self.old_bytes + self.added + len(data) > MAX_BYTES:
                return False
            self.added += len(data)
        if self.out is not None:
            self._put(data)
            self.lines += 1
        return True

    def _copy(self, old):
        if self.out is None:
            return
        self._put(os.pread(self.fd, old[1], old[0]))
        self.lines += 1

    def finish(self, present, listing_complete):
        """Carry or drop the records of entries this run did not check, then save the new record.

        ``present``: names seen in archive-v0 (directories or not).  A record is
        dropped only when its entry is surely gone: the listing was complete and
        did not hold the name.
        """
        for name, old in self.index.items():
            if name in self.handled:
                continue
            if listing_complete and name not in present:
                if old[5]:
                    self.counts['dropped'] += 1
                continue
            if old[5]:
                self.counts['carried'] += 1
            self._copy(old)
        if self.out is None:
            return
        tail = {'entries': self.lines, 'sha256': self.digest.hexdigest()}
        data = (json.dumps(tail, sort_keys=True) + '\n').encode('ascii')
        view = memoryview(data)
        while view:
            view = view[os.write(self.out, view):]
        os.fsync(self.out)
        os.close(self.out)
        self.out = None
        os.rename(self.tmp, self.name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
        self.tmp = None
        try:
            os.fsync(self.dir_fd)
        except OSError:
            pass
        self.saved = True

    def close(self):
        """Release everything; an unsaved new record is removed (the old one stays as it was)."""
        if self.out is not None:
            os.close(self.out)
            self.out = None
        if self.tmp is not None and self.dir_fd is not None:
            try:
                os.unlink(self.tmp, dir_fd=self.dir_fd)
            except OSError:
                pass
            self.tmp = None
        for attr in ('fd', 'lock_fd', 'dir_fd'):
            fd = getattr(self, attr)
            if fd is not None:
                os.close(fd)
                setattr(self, attr, None)

    def summary(self):
        """The JSON-able state of the record for the check's result."""
        return {'dir': self.directory, 'file': self.path, 'state': self.state, 'reason': self.reason,
                'saved': self.saved, 'entries': dict(self.counts)}


def off_summary(reason=''):
    """The record part of a result when no record is used."""
    return {'dir': None, 'file': None, 'state': OFF, 'reason': reason, 'saved': False,
            'entries': {'known': 0, 'first_seen': 0, 'unrecorded': 0, 'dropped': 0, 'carried': 0}}
