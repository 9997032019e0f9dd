"""The scheduled jobs under cron, the scheduler of nodes without systemd (issue 23).

After the systemd story (test_maintenance.py), the site playbook runs with
uv_shared_maintenance_scheduler: cron, the branch the role takes where /run/systemd/system
is absent: both cron entries written and the timers gone, a second run changes nothing,
each entry's command run as cron runs it (a bare environment with the entry's PATH and
SHELL, /bin/sh -c of the line's command, from root's home) writes its metrics, and turning
the jobs off removes the entries, the metrics and the record. The cleanup then converges
the scenario's own settings (systemd) again.
"""
import json
import re
import shlex

from playbook_run import playbook
from test_maintenance import CONTENT_METRICS, METRICS, RECORD_DIR, samples, value
from uvfleet_story import explain

JOBS = {"uvfleet-maintain": METRICS, "uvfleet-verify": CONTENT_METRICS}
CRON = ["uvfleet.uv.site", "-e", json.dumps({"uv_shared_maintenance_scheduler": "cron"})]


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
    rc, stats, _tasks, out = playbook(CRON)
    assert rc == 0, out
    assert all(s["changed"] == 0 for s in stats.values()), (stats, out)


def test_each_entry_runs_as_cron_runs_it_and_writes_its_metrics(host):
    for unit, metrics in JOBS.items():
        env, schedule, user, command = entry(host, unit)
        assert user == "root" and len(schedule) == 5, (user, schedule)
        assert "%" not in command  # cron turns % into a newline
        assert env == {"SHELL": "/bin/sh", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, env
        host.run("rm -f %s", metrics)
        # cron: a bare environment (its own SHELL, HOME, LOGNAME; the entry's PATH), cwd HOME, $SHELL -c
        run = host.run("cd /root && env -i SHELL=/bin/sh HOME=/root LOGNAME=root PATH=%s /bin/sh -c %s",
                       shlex.quote(env["PATH"]), shlex.quote(command))
        assert run.rc == 0, explain(run)
        assert host.file(metrics).exists, "%s wrote no metrics: %s" % (unit, explain(run))
        m = samples(host.file(metrics).content_string)
        if unit == "uvfleet-maintain":
            assert value(m, "uvfleet_maintenance_success") == 1, m
        else:
            assert value(m, "uvfleet_content_check_success") == 1, m
        logged = host.run("journalctl -t %s -o cat --no-pager | tail -n 5", unit).stdout
        assert logged.strip(), "nothing reached the log through logger -t %s" % unit


def test_turning_the_jobs_off_removes_the_entries_metrics_and_record(host):
    off = {"uv_shared_maintenance_scheduler": "cron", "uv_shared_maintenance": False, "uv_shared_content_check": False}
    rc, _stats, _tasks, out = playbook(["uvfleet.uv.site", "-e", json.dumps(off)])
    assert rc == 0, out
    for unit, metrics in JOBS.items():
        assert not host.file("/etc/cron.d/" + unit).exists, unit
        assert not host.file(metrics).exists, metrics
    assert not host.file(RECORD_DIR).exists
