# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doctor's check of uv's link mode for a venv in the current directory: copy, clone or hardlink from the cache."""

from __future__ import absolute_import, division, print_function

import os

from . import uvsettings
from .report import OK, WARNING


def check_link_mode(doc):
    if not doc.cache_reachable:
        return
    source = uvsettings.source('link-mode', 'UV_LINK_MODE', doc.environ, doc.cwd, doc.home)
    mode = (source.value or 'clone').strip().lower()
    where = source.describe('link-mode')
    try:
        same_fs = os.stat(doc.cwd).st_dev == os.stat(doc.cache).st_dev
    except OSError:
        same_fs = False
    reflink = bool(doc.probe.get('reflink'))
    details = {'mode': mode, 'source': source.as_dict(), 'same_file_system': same_fs, 'reflink': reflink}
    copy_note = 'every venv gets its own copy of each file (disk: full size per venv, nothing shared)'
    hardlink = ('venv files share inodes with the cache: any group member can change files in your venv, and '
                'files another member made cannot be hardlinked (fs.protected_hardlinks; '
                '`failed to hardlink file ... Operation not permitted`, uv#5581)')
    hardlink_fix = ('use copy (`export UV_LINK_MODE=copy`), or ask the admin for clone on a file system '
                    'with reflinks')
    if mode == 'copy':
        doc.add('link_mode', OK, 'copy (%s) for a venv in %s: %s' % (where, doc.cwd, copy_note), **details)
    elif mode == 'symlink':
        doc.add('link_mode', WARNING, 'symlink (%s): venvs in %s point into the cache' % (where, doc.cwd),
                cause='`uv cache clean` or `prune` breaks every venv installed that way',
                fix='use copy (`export UV_LINK_MODE=copy`)', **details)
    elif not same_fs:
        doc.add('link_mode', OK, '%s (%s) falls back to copy for a venv in %s: it is on another file system '
                'than the cache %s; %s' % (mode, where, doc.cwd, doc.cache, copy_note), **details)
    elif mode == 'clone' and reflink:
        doc.add('link_mode', OK, 'clone (%s) for a venv in %s: reflinks on the file system of the cache '
                '(isolated, and no extra disk until a file changes)' % (where, doc.cwd), **details)
    else:
        fell = ' (no reflinks on this file system, so clone falls back to hardlink)' if mode == 'clone' else ''
        doc.add('link_mode', WARNING, '%s (%s) for a venv in %s hardlinks from the cache%s'
                % (mode, where, doc.cwd, fell), cause=hardlink, fix=hardlink_fix, **details)
