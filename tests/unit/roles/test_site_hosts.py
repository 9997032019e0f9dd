# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/site.yml on an inventory whose hosts are not in the group uv_nodes: it fails, and says how to name them.

The real ansible-playbook on the real playbook; the hosts point at a closed port, so nothing
is ever set up here: the inventory check fails first, or the host is unreachable after it.
"""

from __future__ import absolute_import, division, print_function

import os
import shutil
import subprocess

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, os.pardir))
SITE = os.path.join(REPO, 'playbooks', 'site.yml')

pytestmark = pytest.mark.skipif(shutil.which('ansible-playbook') is None, reason='needs ansible-playbook on PATH')


def site(tmp_path, inventory, *args):
    inv = tmp_path / 'inventory'
    inv.write_text(inventory)
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_HOST_KEY_CHECKING='0', ANSIBLE_TIMEOUT='5')
    # the roles of this checkout (make layout), as make units exports it
    env.setdefault('ANSIBLE_COLLECTIONS_PATH', os.path.join(REPO, 'build', 'collections'))
    return subprocess.run(['ansible-playbook', '-i', str(inv), SITE] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, env=env, cwd=str(tmp_path), check=False)


# a host no play can reach: port 1 of the loopback refuses at once
GPU = '[gpu_servers]\ngpu01 ansible_host=127.0.0.1 ansible_port=1 ansible_user=nobody\n'


def test_no_uv_nodes_group_fails_and_names_the_fix(tmp_path):
    run = site(tmp_path, GPU)
    assert run.returncode == 2, run.stdout
    assert "No host of the inventory matches 'uv_nodes'" in run.stdout, run.stdout
    assert '[uv_nodes:children]' in run.stdout and 'uvfleet_hosts=' in run.stdout, run.stdout
    assert 'gpu01' not in run.stdout.split('PLAY RECAP')[-1], 'the setup play reached a host'


def test_uvfleet_hosts_naming_no_host_fails(tmp_path):
    run = site(tmp_path, GPU, '-e', 'uvfleet_hosts=cpu_servers')
    assert run.returncode == 2, run.stdout
    assert "No host of the inventory matches 'cpu_servers'" in run.stdout, run.stdout


@pytest.mark.parametrize('inventory, args', [
    (GPU, ['-e', 'uvfleet_hosts=gpu_servers']),
    (GPU + '[uv_nodes:children]\ngpu_servers\n', []),
])
def test_named_hosts_pass_the_check(tmp_path, inventory, args):
    # past the check, the setup play tries the host (unreachable here: exit code 4)
    run = site(tmp_path, inventory, *args)
    assert 'No host of the inventory matches' not in run.stdout, run.stdout
    assert run.returncode == 4, run.stdout
    assert 'gpu01' in run.stdout.split('PLAY RECAP')[-1] and 'unreachable=1' in run.stdout, run.stdout
