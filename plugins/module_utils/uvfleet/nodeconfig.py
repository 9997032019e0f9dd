# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node's uvfleet configuration: what the shared role set up, for the node command.

The shared role writes ``/etc/uvfleet/config.json`` (root-owned, 0644: members
read it, the doctor needs it; it holds no secret).  Keys (all optional):

    group            the shared group (name)
    cache_dir, python_install_dir, python_bin_dir, tool_dir, tool_bin_dir
    managed_dirs     the directories the role manages on this node (empty where
                     another node manages a shared file system)
    exclude          the role's exclusion globs (uv_shared_check_exclude)
    read_only_dirs   the managed dirs of the `managed` policy (group read-only)
    python_policy, tool_policy   managed | collaborative
    exclude_locks    globs of uv's lock files (left alone when regular files of uv's mode)
    acl              auto | required | off;  fallback  true where the umask
                     fallback is active;  fallback_umask
    target           node | image (an image build: no ACLs kept, no scheduled jobs;
                     docs/images.md)
    wrapper_dir, real_bin_dir, uv_toml_path, link_mode
    content_record_dir  where ``uvfleet verify`` keeps its record of each cache entry's
                     first sight (the scheduled content check's, /var/lib/uvfleet/content)

A missing file is an empty configuration (a node the role has not set up); a
file that is not root-owned, is writable by anyone but root, or does not parse
is an error, because root's scheduled job takes its directories from it.
"""

from __future__ import absolute_import, division, print_function

import errno
import json
import stat

from .fs import fileio

DEFAULT_PATH = '/etc/uvfleet/config.json'


class ConfigError(Exception):
    """The configuration file cannot be trusted or read."""


def load(path=None):
    """The configuration as a dict ({} when the file does not exist)."""
    path = path or DEFAULT_PATH
    try:
        st, data = fileio.read_small(path)
    except fileio.NotRegularFile:
        raise ConfigError('%s is not a regular file' % path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return {}
        raise ConfigError('cannot open %s: %s (a symlink is refused)' % (path, exc.strerror))
    if st.st_uid != 0 or st.st_mode & 0o022:
        raise ConfigError('%s must belong to root and be writable by root only (owner uid %d, mode %04o); '
                          'rerun the uvfleet.uv.shared role to restore it' % (path, st.st_uid, stat.S_IMODE(st.st_mode)))
    try:
        config = json.loads(data.decode('utf-8'))
    except ValueError as exc:
        raise ConfigError('%s is not valid JSON (%s); rerun the uvfleet.uv.shared role to rewrite it' % (path, exc))
    if not isinstance(config, dict):
        raise ConfigError('%s must hold a JSON object' % path)
    return config


def dir_policy(config, path):
    """The shared role's policy for one managed directory of this configuration, as engine options.

    The one definition that the node command (``uvfleet audit|check|repair`` without PATH,
    cmd/audit_cmd.py), the maintenance job's repair of each directory (maintain/job.py) and
    the role's self-check (the cache_perms module with ``node_config``) apply: others nothing;
    the group writes, except in the Python and tool dirs of the ``managed`` policy
    (``read_only_dirs``: root's, the group reads, and nothing is excluded there); the role's
    exclusions (``exclude``) elsewhere; uv's lock files (``exclude_locks``) everywhere;
    symlinks between the managed dirs normal (``link_roots``: every managed dir).
    """
    read_only = path in (config.get('read_only_dirs') or ())
    return {
        'others': 'none',
        'group_access': 'read' if read_only else 'write',
        'acl': config.get('acl') or 'auto',
        'exclude': [] if read_only else list(config.get('exclude') or ()),
        'exclude_locks': list(config.get('exclude_locks') or ()),
        'link_roots': list(config.get('managed_dirs') or ()),
    }
