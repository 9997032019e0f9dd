"""The scheduled jobs on a node without systemd (issue 23): cron runs them.

A second node of this scenario's image, started for this test only (tests/ssh_nodes.py,
its own network): PID 1 is sshd, cron is the scheduler, nothing of systemd runs. The
site playbook with both jobs on and the scheduler left at auto finds no systemd and
writes cron entries, every minute here; the cron daemon itself then runs each job, which
writes its metrics. A second run and a check run change nothing; turning the jobs off
removes the entries. (test_scheduler_cron.py runs the cron branch, forced, on the
systemd node, and each entry's command as cron would.)
"""
import json
import os
import subprocess
import sys
import time

import pytest
import testinfra

from disk_snapshot import check_run_changes_nothing
from playbook_run import changed, playbook
from test_scheduler_cron import JOBS, SUCCESS, unlabelled
from uvfleet_story import explain, ok

NAME = "uvfleet-content-nosd"
SSH_NODES = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "tests", "ssh_nodes.py")
# no group members here (prepare made alice and bob on the scenario's node only); both
# jobs every minute, scheduler auto
VARS = {"uvfleet_hosts": "uv_nosystemd", "uv_shared_group_members": [], "uv_shared_maintenance": True,
        "uv_shared_content_check": True, "uv_shared_maintenance_cron_schedule": "* * * * *",
        "uv_shared_content_check_cron_schedule": "* * * * *"}


@pytest.fixture(scope="module")
def bare():
    """(host, inventory text) of a node whose PID 1 is sshd, with cron running; removed afterwards."""
    spec = {"network": NAME, "ssh_dir": os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "ssh-nosd"),
            "nodes": [{"name": NAME, "image": "localhost/uvfleet/debian:12", "systemd": False,
                       "volumes": ["/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro"],
                       "command": ["/bin/sh", "-c", "ssh-keygen -A >/dev/null && mkdir -p /run/sshd "
                                   "&& /usr/sbin/cron && exec /usr/sbin/sshd -D -e"]}]}
    up = subprocess.run([sys.executable, SSH_NODES, "up"], input=json.dumps(spec).encode(), stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, check=False)
    try:
        assert up.returncode == 0, up.stderr.decode()
        nodes = json.loads(up.stdout.decode())
        node = nodes["nodes"][0]
        common = " ".join(nodes["ssh_args"])
        inventory = "[uv_nosystemd]\n%s ansible_host=%s ansible_user=root ansible_ssh_common_args='%s'\n" % (
            NAME, node["address"], common)
        yield testinfra.get_host("ssh://" + NAME, ssh_config=nodes["ssh_config"]), inventory
    finally:
        subprocess.run([sys.executable, SSH_NODES, "down"], input=json.dumps(spec).encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=False)


def site(inventory, **changes):
    return playbook(["uvfleet.uv.site", "-e", json.dumps(dict(VARS, **changes))], extra_inventory=inventory)


def test_without_systemd_the_site_writes_cron_entries_and_cron_runs_the_jobs(bare):
    node, inventory = bare
    assert ok(node.run("cat /proc/1/comm")).stdout.strip() == "sshd" and not node.file("/run/systemd/system").exists
    rc, _stats, _tasks, out = site(inventory)
    assert rc == 0, out
    for unit, metrics in JOBS.items():
        cron = node.file("/etc/cron.d/" + unit)
        assert cron.is_file and (cron.user, cron.mode) == ("root", 0o644), unit
        assert "* * * * * root " in cron.content_string, cron.content_string
        assert not node.file("/etc/systemd/system/%s.timer" % unit).exists
        node.run("rm -f %s", metrics)
    # the cron daemon runs both jobs at the next minute; each writes its metrics
    deadline = time.time() + 150
    while time.time() < deadline and not all(node.file(m).exists for m in JOBS.values()):
        time.sleep(5)
    for unit, metrics in JOBS.items():
        assert node.file(metrics).exists, "cron did not run %s: %s" % (unit, explain(node.run("ps -ef")))
        assert unlabelled(node.file(metrics).content_string, SUCCESS[unit]) == 1


def test_a_second_run_and_a_check_run_change_nothing(bare):
    node, inventory = bare
    rc, stats, tasks, out = site(inventory)
    assert rc == 0 and all(s["changed"] == 0 for s in stats.values()), (changed(tasks), stats, out[-1500:])
    check_run_changes_nothing(node, ["-e", json.dumps(VARS)], extra_inventory=inventory)


def test_turning_the_jobs_off_removes_the_entries(bare):
    node, inventory = bare
    rc, _stats, _tasks, out = site(inventory, uv_shared_maintenance=False, uv_shared_content_check=False)
    assert rc == 0, out
    for unit, metrics in JOBS.items():
        assert not node.file("/etc/cron.d/" + unit).exists and not node.file(metrics).exists, unit
