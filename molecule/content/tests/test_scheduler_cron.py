"""The scheduled jobs under cron, the scheduler of nodes without systemd (issue 23).

After the other tests of the scenario, the site playbook runs with both jobs on
(uv_shared_maintenance, uv_shared_content_check) and uv_shared_maintenance_scheduler: cron,
the branch the role takes where /run/systemd/system is absent: both cron entries written and
no timer, a second run changes nothing, each entry's command run as cron runs it (a bare
environment with the entry's PATH and SHELL, /bin/sh -c of the line's command, from root's
home) writes its metrics, and turning the jobs off removes the entries, the metrics and the
record. (The maintenance scenario runs the same jobs from their systemd timers.)
"""
import json
import re

from prometheus_client.parser import text_string_to_metric_families

from disk_snapshot import check_run_changes_nothing
from playbook_run import changed, playbook
from uvfleet_story import explain

METRICS_DIR = "/var/lib/prometheus/node-exporter"
JOBS = {"uvfleet-maintain": METRICS_DIR + "/uvfleet.prom", "uvfleet-verify": METRICS_DIR + "/uvfleet_content.prom"}
SUCCESS = {"uvfleet-maintain": "uvfleet_maintenance_success", "uvfleet-verify": "uvfleet_content_check_success"}
RECORD_DIR = "/var/lib/uvfleet/content"
JOBS_ON = {"uv_shared_maintenance": True, "uv_shared_content_check": True, "uv_shared_maintenance_scheduler": "cron"}
CRON = ["uvfleet.uv.site", "-e", json.dumps(JOBS_ON)]


def unlabelled(text, name):
    """The value of the sample NAME without labels, as prometheus_client (the reference parser) reads the textfile."""
    found = [s.value for family in text_string_to_metric_families(text) for s in family.samples
             if s.name == name and not s.labels]
    assert len(found) == 1, (name, text)
    return found[0]


def entry(host, unit):
    """(environment, schedule, user, command) of the one job line of /etc/cron.d/<unit>."""
    env, jobs = {}, []
    for line in host.file("/etc/cron.d/" + unit).content_string.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        assignment = re.match(r"^([A-Z_]+)=(.*)$", line)
        if assignment:
            env[assignment.group(1)] = assignment.group(2)
        else:
            jobs.append(line.split(None, 6))
    assert len(jobs) == 1, jobs
    fields = jobs[0]
    return env, fields[:5], fields[5], fields[6]


def test_cron_entries_replace_the_timers_and_a_second_run_changes_nothing(host):
    rc, stats, _tasks, out = playbook(CRON)
    assert rc == 0, out
    for unit in JOBS:
        cron = host.file("/etc/cron.d/" + unit)
        assert cron.is_file and (cron.user, cron.group, cron.mode) == ("root", "root", 0o644), unit
        assert re.fullmatch(r"[A-Za-z0-9_-]+", unit)  # what Debian's cron reads in /etc/cron.d
        for kind in ("service", "timer"):
            assert not host.file("/etc/systemd/system/%s.%s" % (unit, kind)).exists, (unit, kind)
    assert host.run("systemctl list-timers --all --no-legend 'uvfleet-*'").stdout.strip() == ""
    rc, stats, tasks, out = playbook(CRON)
    assert rc == 0, out
    assert all(s["changed"] == 0 for s in stats.values()), (changed(tasks), stats)
    # and check mode with the jobs on changes nothing either (the cron entries, the job's state)
    check_run_changes_nothing(host, ["-e", json.dumps(JOBS_ON)])


def test_each_entry_runs_as_cron_runs_it_and_writes_its_metrics(host):
    for unit, metrics in JOBS.items():
        env, schedule, user, command = entry(host, unit)
        assert user == "root" and len(schedule) == 5, (user, schedule)
        assert "%" not in command  # cron turns % into a newline
        assert env == {"SHELL": "/bin/sh", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, env
        host.run("rm -f %s", metrics)
        # cron: a bare environment (its own SHELL, HOME, LOGNAME; the entry's PATH), cwd HOME, $SHELL -c
        # (host.run quotes each argument itself)
        run = host.run("cd /root && env -i SHELL=/bin/sh HOME=/root LOGNAME=root PATH=%s /bin/sh -c %s",
                       env["PATH"], command)
        assert run.rc == 0, explain(run)
        assert host.file(metrics).exists, "%s wrote no metrics: %s" % (unit, explain(run))
        assert unlabelled(host.file(metrics).content_string, SUCCESS[unit]) == 1
        logged = host.run("journalctl -t %s -o cat --no-pager | tail -n 5", unit).stdout
        assert logged.strip(), "nothing reached the log through logger -t %s" % unit


def test_turning_the_jobs_off_removes_the_entries_metrics_and_record(host):
    off = dict(JOBS_ON, uv_shared_maintenance=False, uv_shared_content_check=False)
    rc, _stats, _tasks, out = playbook(["uvfleet.uv.site", "-e", json.dumps(off)])
    assert rc == 0, out
    for unit, metrics in JOBS.items():
        assert not host.file("/etc/cron.d/" + unit).exists, unit
        assert not host.file(metrics).exists, metrics
    assert not host.file(RECORD_DIR).exists
