# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module of this collection the way Ansible runs it: a child process reading its arguments."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys

from ansible_collections.uvfleet.uv.plugins.modules import cache_perms

# The directory that holds ansible_collections/, for the child process: under the
# Makefile it is build/collections (PYTHONPATH), under ansible-test its own copy.
COLLECTIONS_ROOT = os.path.abspath(os.path.join(os.path.dirname(cache_perms.__file__), *[os.pardir] * 5))


def run_module(name, tmp_path, **args):
    """The module's JSON result for ANSIBLE_MODULE_ARGS ``args``."""
    argfile = tmp_path / 'args.json'
    argfile.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
    path = os.pathsep.join([COLLECTIONS_ROOT] + [p for p in sys.path if os.path.isabs(p)])
    proc = subprocess.run([sys.executable, '-m', 'ansible_collections.uvfleet.uv.plugins.modules.' + name, str(argfile)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(tmp_path), check=False,
                          env=dict(os.environ, PYTHONPATH=path))
    return json.loads(proc.stdout.decode())
