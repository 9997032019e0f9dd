# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers of the maintenance job's tests: a node as the role leaves it, its cache made by the real uv."""

from __future__ import absolute_import, division, print_function

import json
import os
import shutil
import subprocess
import sys

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.cmd import main as command
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet import nodeconfig

from perms_testlib import GID, cleanup, make_dir, make_wheel, root_only_base
UV = shutil.which('uv')
WORKER = 'uvfleet-tworker'  # tests/unit/conftest.py makes it: the role's uv_shared_worker_user


def uv(cache, *args):
    env = dict(os.environ, UV_CACHE_DIR=cache, UV_NO_CONFIG='1', UV_LINK_MODE='copy', UV_OFFLINE='1',
               UV_PYTHON_DOWNLOADS='never')
    return subprocess.run([UV] + list(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)


def make_node(base, tmp_path, monkeypatch, request):
    """A node as the role leaves it: a shared cache filled by real uv, a tool dir, the configuration."""
    # the real uv that root's job runs: a copy where only root can change it (as uvfleet.uv.install puts it)
    real_bin_dir = os.path.join(root_only_base(), 'bin')
    request.addfinalizer(lambda: cleanup(os.path.dirname(real_bin_dir)))
    os.mkdir(real_bin_dir, 0o755)
    shutil.copy(UV, os.path.join(real_bin_dir, 'uv'))
    cache = os.path.join(base, 'cache')
    tools = os.path.join(base, 'tools')
    for d in (cache, tools):
        make_dir(d)
    wheels = str(tmp_path / 'wheels')
    os.mkdir(wheels)
    make_wheel(wheels)
    venv = str(tmp_path / 'venv')
    for args in (('venv', '-q', '-p', sys.executable, venv),
                 ('pip', 'install', '-q', '-p', venv, '--find-links', wheels, 'tinypkg')):
        done = uv(cache, *args)
        assert done.returncode == 0, done.stderr
    # the role's repair brings what uv (as root, umask 022) made under the policy
    code = command.main(['repair', '--group', str(GID), '--compact', '--exclude=*.lock', cache, tools])
    assert code == 0
    metrics_dir = str(tmp_path / 'node-exporter')
    os.mkdir(metrics_dir)
    config = {
        'group': str(GID), 'cache_dir': cache, 'managed_dirs': [cache, tools],
        'exclude': ['*.lock'], 'acl': 'auto', 'fallback_umask': '0007', 'real_bin_dir': real_bin_dir,
        'metrics_file': os.path.join(metrics_dir, 'uvfleet.prom'), 'maintenance_prune': 'normal',
        'maintenance_lock_timeout': 30, 'worker_user': WORKER,
    }
    path = tmp_path / 'config.json'

    def write(**changes):
        data = dict(config, **changes)
        path.write_text(json.dumps(data))
        os.chmod(str(path), 0o644)
        return data

    monkeypatch.setattr(nodeconfig, 'DEFAULT_PATH', str(path))
    write()
    return {'cache': cache, 'tools': tools, 'venv': venv, 'wheels': wheels, 'write': write,
            'metrics': config['metrics_file']}


def series(table, name):
    return dict((dict(labels).get('kind') or dict(labels).get('outcome'), v)
                for (n, labels), v in table.items() if n == name)


def archive_entries(cache):
    return sorted(os.listdir(os.path.join(cache, 'archive-v0')))


def maintain_main(capsys, *argv):
    """Run `uvfleet maintain` in this process; the umask it sets (the job's) is undone afterwards."""
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        code = command.main(['maintain'] + list(argv))
    finally:
        os.umask(umask)
    out = capsys.readouterr()
    return code, out.out, out.err
