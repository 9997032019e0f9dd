# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared role's policy of each managed directory, as engine options, is one definition
(nodeconfig.dir_policy) that its three callers apply alike (issue 23): the node command
(`uvfleet audit` without PATH), the maintenance job's repair of each directory, and the
role's self-check (roles/shared/tasks/selfcheck.yml, the cache_perms module)."""

from __future__ import absolute_import, division, print_function

import json
import os

import pytest
import yaml

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet import nodeconfig
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.cmd import audit_cmd
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.maintain import job
from ansible_collections.uvfleet.uv.plugins.modules import cache_perms

from perms_testlib import COLLECTION

POLICY = ('others', 'group_access', 'acl', 'exclude', 'exclude_locks', 'link_roots')
CACHE, PYTHONS, BIN, TOOLS = '/var/cache/uv', '/opt/uv/python', '/opt/uv/bin', '/opt/uv/tools'
# the role's configuration with both kinds of managed dir: the cache and Python dirs the
# group writes, the tool dirs of the `managed` policy (group read-only), exclusions set
CONFIG = {'group': 'uvshared', 'acl': 'auto', 'managed_dirs': [CACHE, PYTHONS, BIN, TOOLS],
          'read_only_dirs': [BIN, TOOLS], 'exclude': ['builds-v*/*'], 'exclude_locks': ['*.lock']}


def by_node_command(config):
    """{dir: options} of the command lines `uvfleet audit` runs without PATH."""
    found = {}
    for argv in audit_cmd.node_argvs('audit', [], config):
        args = audit_cmd.build_parser().parse_args(argv)
        options = dict((name, getattr(args, name)) for name in POLICY)
        for path in args.paths:
            found[path] = options
        for path in args.read_paths:
            found[path] = dict(options, group_access='read')
    return found


def by_job(config, monkeypatch):
    """{dir: options} the maintenance job repairs each managed dir with."""
    found = {}

    def engine_run(paths, _group, options):
        found[paths[0]] = dict((name, list(getattr(options, name)) if name in ('exclude', 'exclude_locks', 'link_roots')
                                else getattr(options, name)) for name in POLICY)
        raise job.PermsError('recorded')
    monkeypatch.setattr(job.engine, 'run', engine_run)
    for path in config['managed_dirs']:
        job.repair_dir(path, config, 1)
    return found


def by_self_check(config, tmp_path, monkeypatch):
    """{dir: options} of the role's self-check: its cache_perms task, one call per dir, as the module reads them."""
    with open(os.path.join(COLLECTION, 'roles', 'shared', 'tasks', 'selfcheck.yml')) as handle:
        tasks = yaml.safe_load(handle)
    audit = [task for task in tasks if 'uvfleet.uv.cache_perms' in task]
    assert len(audit) == 1
    args = audit[0]['uvfleet.uv.cache_perms']
    # the task says nothing of the policy itself (what it said once: no link roots in the cache)
    assert args.get('node_config') is True and not set(args) & set(POLICY), args
    assert audit[0]['loop'] == '{{ __uv_shared_dirs }}' and args['path'] == '{{ item }}'
    path = tmp_path / 'config.json'
    path.write_text(json.dumps(config))
    os.chmod(str(path), 0o644)
    monkeypatch.setattr(nodeconfig, 'DEFAULT_PATH', str(path))

    class Module(object):
        params = dict(dict((name, 'not the policy') for name in POLICY), node_config=True)

        def fail_json(self, **kwargs):
            raise AssertionError(kwargs)
    return dict((d, cache_perms.policy_options(Module(), [d])) for d in config['managed_dirs'])


@pytest.mark.parametrize('config', [CONFIG, dict(CONFIG, read_only_dirs=[], exclude=[]), dict(CONFIG, acl='off')])
def test_the_three_callers_give_each_dir_the_same_options(config, tmp_path, monkeypatch):
    if os.geteuid() != 0:
        pytest.skip('the node configuration must be root-owned')
    want = dict((d, nodeconfig.dir_policy(config, d)) for d in config['managed_dirs'])
    assert by_node_command(config) == want
    assert by_job(config, monkeypatch) == want
    assert by_self_check(config, tmp_path, monkeypatch) == want
    # links between the managed dirs are normal in every one of them, the cache included
    assert all(options['link_roots'] == config['managed_dirs'] for options in want.values())
    for d in config.get('read_only_dirs') or ():
        assert want[d]['group_access'] == 'read' and want[d]['exclude'] == []
