# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Incremental audits: skip what did not change since the last clean run, by change time.

Every ``chmod``, ``chown``, ``setxattr``/``setfacl``, ``link``, ``unlink`` and ``rename``
sets the ``ctime`` of the inode it changes (and a directory's when its entries change)
to the kernel's clock, which only root can move.  So, per root:

* **watermark**: at the start of a root's walk, root creates a marker file with a random
  name in the root through the root's checked fd (``O_CREAT|O_EXCL|O_NOFOLLOW``), takes
  the ``ctime`` of the fd it created and unlinks it: a time of the file system's own
  clock (an NFS server's, not the client's), earlier than anything the walk looks at.
* **state**, saved only when a run ended with nothing remaining on that root's regular
  files and directories (findings on symlinks, special files and mount points, which every
  run checks again, do not count: ``RECHECKED``) and was not interrupted (after the repairs): the watermark, the facts the verdicts depended on
  (``facts``: policy options, group, ACL support, others' access to the root, the
  engine's sources, the root's path and ``(st_dev, st_ino)``), the inode numbers of the
  directories walked (not excluded), and the users named in ACL entries found compliant.
  One file per root in a root-only directory (``/var/lib/uvfleet/perms-state``), never in
  the cache (uv's prune deletes what it does not know there; members write there).
* **the rule** (``fs/walk.py`` applies it): every entry is still walked and ``lstat``'ed.
  A regular file or directory keeps its last verdict (no ACL read) only when its
  ``ctime`` is older than the watermark minus a margin AND its parent directory is
  *known*: the parent's inode is in the remembered set and its own ``ctime`` is older
  than that too (no entry of it was added, removed or renamed since).  A directory not
  remembered (new, or moved in with its old descendants) has all its entries checked in
  full, and so on down its subtree; a remembered directory whose ctime moved (uv adds to
  ``archive-v0/`` every day) has its direct entries checked in full, while a remembered,
  unchanged directory below it keeps skipping.  Symlinks and special files are always
  checked.

A full run is made (and said why) when: asked for (``full``), no state dir, check mode,
no watermark could be made (a read-only file system), no or a bad state (wrong owner,
mode, links, garbage: ignored, never trusted), a fact changed, the stored watermark is
later than this run's (the clock went back), or a user named in an ACL entry found
compliant is no longer allowed.
"""

from __future__ import absolute_import, division, print_function

import binascii
import errno
import hashlib
import json
import os
import stat
import sys

from ..fs import fileio
from ..fs import walk
from . import roots
from .kinds import OTHER_FILESYSTEM, SPECIAL_FILE, SYMLINK_DANGLING, SYMLINK_OUTSIDE, VANISHED

#: where the state lives by default (root:root 0700; one file per root, 0600)
DEFAULT_STATE_DIR = '/var/lib/uvfleet/perms-state'
#: tests (and sites) may point it elsewhere
STATE_DIR_ENV = 'UVFLEET_PERMS_STATE_DIR'
#: seconds: a ctime within this of the watermark is not trusted (1-2 s timestamps, rounding)
MARGIN = 2.0
#: bump when a verdict changes without a change of the sources hashed below
ENGINE_VERSION = 1
FORMAT = 'uvfleet-perms-state'
FORMAT_VERSION = 1
#: a state file larger than this is ignored (about 4M directories)
MAX_STATE = 64 << 20
#: the modules whose sources the verdicts depend on (their text is part of the facts)
_VERDICT_MODULES = ('verdict', 'policy', 'entries', 'kinds', 'groups', 'incremental', 'engine')
_FS_MODULES = ('acl', 'walk', 'links')
_DIGEST = []
#: findings on what every run checks again (symlinks, special files, mount points, entries gone): left
#: remaining, they do not keep a root's state from being saved (tool venvs link to a system Python by design)
RECHECKED = frozenset((SYMLINK_OUTSIDE, SYMLINK_DANGLING, SPECIAL_FILE, OTHER_FILESYSTEM, VANISHED))


def blocking(remaining):
    """Remaining findings (kind -> count) that keep a root's state from being saved: all but RECHECKED ones."""
    return sum(n for kind, n in remaining.items() if kind not in RECHECKED)


def default_state_dir():
    """The state dir of the module and the node command: $UVFLEET_PERMS_STATE_DIR, else DEFAULT_STATE_DIR."""
    return os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR


def engine_digest():
    """sha256 of ENGINE_VERSION and the sources of the modules the verdicts depend on (once per process)."""
    if not _DIGEST:
        digest = hashlib.sha256(str(ENGINE_VERSION).encode('ascii'))
        package = __name__.rsplit('.', 2)[0]
        names = ['%s.perms.%s' % (package, n) for n in _VERDICT_MODULES] + ['%s.fs.%s' % (package, n) for n in _FS_MODULES]
        for name in names:
            digest.update(_source(name))
        _DIGEST.append(digest.hexdigest())
    return _DIGEST[0]


def _source(name):
    """The source of an imported module (through its loader: AnsiballZ zips too), or its name when unavailable."""
    module = sys.modules.get(name)
    try:
        text = module.__loader__.get_source(name)
    except Exception:  # pylint: disable=broad-except
        text = None  # no source: the version constant alone
    if not text:
        text = name
    if isinstance(text, bytes):  # some loaders (ansible-test's collection loader) give bytes
        return text
    return text.encode('utf-8', 'surrogateescape')


def make_marker(root_fd):
    """The file system's clock now: the ctime of a file made and removed in the root; (ctime, None) or (None, why)."""
    name = '.uvfleet-watermark-%s' % binascii.hexlify(os.urandom(12)).decode('ascii')
    try:
        fd = os.open(name, fileio.NEW_FLAGS, 0o600, dir_fd=root_fd)
    except OSError as exc:
        return None, 'no watermark (cannot create a file in the root: %s)' % exc.strerror
    try:
        st = os.fstat(fd)
    finally:
        os.close(fd)
    try:
        now = os.stat(name, dir_fd=root_fd, follow_symlinks=False)
        if (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):  # ours, not something put there meanwhile
            os.unlink(name, dir_fd=root_fd)
    except OSError:
        pass
    return st.st_ctime, None


class StateDir(object):
    """The root-only directory of the states: opened through checked fds, files read and written relative to it."""

    def __init__(self, path):
        self.path = os.path.normpath(os.path.abspath(path))
        self.fd = None
        self.problem = None

    def open(self, create):
        """Open (create: make it, 0700) the dir; False with ``problem`` set when it is missing or not root-only."""
        try:
            self.fd, st = walk.open_path(self.path, roots.ancestor_check(self.path), create=0o700 if create else None)
        except (OSError, roots.RefusedRoot, ValueError) as exc:
            self.problem = 'state dir %s not used: %s' % (self.path, getattr(exc, 'strerror', None) or exc)
            return False
        if st.st_uid != 0 or stat.S_IMODE(st.st_mode) & 0o077:
            self.problem = ('state dir %s not used: owner uid %d, mode %04o; it must be root:root 0700'
                            % (self.path, st.st_uid, stat.S_IMODE(st.st_mode)))
            self.close()
            return False
        return True

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    @staticmethod
    def name(root, st):
        """The state file of a root: keyed by its path and (st_dev, st_ino)."""
        key = '%s\0%d\0%d' % (root, st.st_dev, st.st_ino)
        return 'root-%s.json' % hashlib.sha256(key.encode('utf-8', 'surrogateescape')).hexdigest()[:32]

    def load(self, name):
        """The stored state (a dict), or a str saying why there is none or why it is ignored."""
        try:
            st, data = fileio.read_small(name, limit=MAX_STATE + 1, dir_fd=self.fd)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return 'no state (first run)'
            return 'state ignored (%s)' % (exc.strerror or exc)
        if st.st_uid != 0 or stat.S_IMODE(st.st_mode) & 0o077 or st.st_nlink != 1:
            return 'state ignored (owner uid %d, mode %04o, %d links: not root-only)' % (
                st.st_uid, stat.S_IMODE(st.st_mode), st.st_nlink)
        if len(data) > MAX_STATE:
            return 'state ignored (larger than %d bytes)' % MAX_STATE
        try:
            state = json.loads(data.decode('utf-8'))
        except (UnicodeError, ValueError):
            return 'state ignored (not JSON)'
        return validate(state)

    def save(self, name, state):
        """Write a state whole (0600, a temporary file renamed over the old one, relative to the dir's fd)."""
        fileio.replace(name, json.dumps(state, sort_keys=True).encode('utf-8'), mode=0o600, dir_fd=self.fd)


def validate(state):
    """The state when its shape is right, else a str saying what is wrong (nothing of it is trusted then)."""
    if not isinstance(state, dict) or state.get('format') != FORMAT or state.get('version') != FORMAT_VERSION:
        return 'state ignored (not a %s %d file)' % (FORMAT, FORMAT_VERSION)
    watermark, dirs, uids, facts = state.get('watermark'), state.get('dirs'), state.get('named_uids'), state.get('facts')
    if isinstance(watermark, bool) or not isinstance(watermark, (int, float)) or not isinstance(facts, dict):
        return 'state ignored (no watermark or facts)'
    for items in (dirs, uids):
        if not isinstance(items, list) or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in items):
            return 'state ignored (bad list of inodes or users)'
    return state


def changed_facts(old, new):
    """The names of the facts that differ (sorted)."""
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


class Decision(object):
    """What one root's walk does: incremental (``known``, ``cutoff``) or full (``reason``), and whether it saves."""

    def __init__(self, watermark=None, reason='', known=None, cutoff=0.0, named_uids=()):
        #: this run's watermark (None: none made, nothing is saved)
        self.watermark = watermark
        self.reason = reason
        self.known = known
        self.cutoff = cutoff
        self.named_uids = set(named_uids)
        #: when the last full run of the root began (its watermark; None: this run is the full one)
        self.last_full = None

    @property
    def kind(self):
        return 'incremental' if self.known is not None else 'full'


class Tracker(object):
    """The incremental side of one run: decides per root, saves the states of the clean roots at the end."""

    def __init__(self, state_dir, full=False, dry_run=False, margin=MARGIN, full_every=None):
        self.dir = StateDir(state_dir) if state_dir else None
        self.full, self.dry_run, self.margin = full, dry_run, float(margin)
        #: seconds: a full run when the last one of a root is older (None: only when asked for or needed)
        self.full_every = full_every
        self.opened = False
        #: why there is no state dir (a full run of every root)
        self.no_dir = 'no state dir (stateless run)'
        #: (file name, state) of the roots to save once the run has ended well
        self.pending = []

    def decide(self, root, root_fd, st, facts, allowed):
        """The Decision for a root about to be walked (``allowed``: uid -> may be named in an ACL entry)."""
        if self.dry_run:
            return Decision(reason='check mode (nothing recorded)')
        if self.dir is not None and not self.opened:
            self.opened = True
            if not self.dir.open(create=True):
                self.no_dir, self.dir = self.dir.problem, None
        if self.dir is None:
            return Decision(reason=self.no_dir)
        watermark, why = make_marker(root_fd)
        if watermark is None:
            return Decision(reason=why)
        if self.full:
            return Decision(watermark, 'asked for (full)')
        state = self.dir.load(StateDir.name(root, st))
        if not isinstance(state, dict):
            return Decision(watermark, state)
        changed = changed_facts(state['facts'], facts)
        if changed:
            return Decision(watermark, 'changed since the last clean run: %s' % ', '.join(changed))
        if state['watermark'] > watermark:
            return Decision(watermark, 'the stored watermark is later than now (the clock went back)')
        last_full = state.get('last_full')
        if self.full_every is not None and (not isinstance(last_full, (int, float)) or
                                            watermark - last_full >= self.full_every):
            return Decision(watermark, 'scheduled (the last full run is older than %d s)' % self.full_every)
        gone = [uid for uid in state['named_uids'] if not allowed(uid)]
        if gone:
            return Decision(watermark, 'uid %d, named in an ACL entry, is no longer allowed' % gone[0])
        decision = Decision(watermark, 'incremental', frozenset(state['dirs']), state['watermark'] - self.margin,
                            state['named_uids'])
        decision.last_full = last_full
        return decision

    def clean(self, root, st, facts, decision, dirs, named_uids):
        """A root walked with nothing remaining: its new state is saved when the whole run ends well (``save``)."""
        if decision.watermark is None or self.dir is None:
            return
        state = {'format': FORMAT, 'version': FORMAT_VERSION, 'root': root, 'dev': st.st_dev, 'ino': st.st_ino,
                 'facts': facts, 'watermark': decision.watermark, 'dirs': sorted(dirs),
                 'named_uids': sorted(set(named_uids) | decision.named_uids),
                 'last_full': decision.watermark if decision.last_full is None else decision.last_full}
        self.pending.append((StateDir.name(root, st), state))

    def save(self):
        """Save the states of the clean roots; a note for each that could not be saved."""
        notes = []
        for name, state in self.pending:
            try:
                self.dir.save(name, state)
            except OSError as exc:
                notes.append('incremental state of %s not saved: %s' % (state['root'], exc.strerror or exc))
        del self.pending[:]
        return notes

    def close(self):
        if self.dir is not None:
            self.dir.close()
