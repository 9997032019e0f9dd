# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""File-system primitives: the open flags and small-file I/O, POSIX ACLs, mounts, the tree walk, symlinks, reflinks."""

from __future__ import absolute_import, division, print_function
