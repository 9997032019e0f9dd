# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node library of uvfleet.uv: everything that runs on a node, standard library only (Python 3.7+).

Two doors: the modules (plugins/modules/cache_perms.py, cache_verify.py) for playbooks,
and the node command ``uvfleet`` (bin/uvfleet, cmd/) on the nodes, where the shared role
installs this package as /usr/local/lib/uvfleet/lib/uvfleet (the role's own install
scripts import pythons_tools/ from there).  Layers, each importing
only those below it (tests/unit/.../uvfleet/test_layout.py checks it):

    cmd/          one file per uvfleet command: argument parsing and exit status only
    content/  doctor/  maintain/    the content check, the members' doctor, the scheduled job
    pythons_tools/                  the shared Python and tool dirs: the play's installs, a retired dir removed
                  (the role's scripts files/shared-pythons.py, shared-tools.py, managed-retire.py)
    perms/  metrics/                the permission engine; node_exporter textfiles
    fs/           file-system primitives: open flags and small files, ACLs, mounts, the walk, links
    escape.py, nodeconfig.py, privsep.py    printing what members named; /etc/uvfleet/config.json;
                  the worker account root's jobs drop to (on nodes: ``from uvfleet import privsep``)
"""

from __future__ import absolute_import, division, print_function
