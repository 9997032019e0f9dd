"""The scheduled job `uvfleet maintain`, started as systemd starts it, on a cache real members filled.

The tests run in file order: the service's first run repairs the damage and
prunes; then a held cache lock; then a failed run.
"""
import base64
import json
import os
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tamper import rewrite_with_record
from uvfleet_story import BIN_DIR, CACHE, PYTHON_DIR, SHARED_DIRS, TOOL_DIR, as_user, explain, ok, uv

UNIT = "uvfleet-maintain"
METRICS = "/var/lib/prometheus/node-exporter/uvfleet.prom"
DAMAGE = os.path.join(os.path.dirname(__file__), "..", "files", "damage.py")
# Molecule prunes its ephemeral directory at the end: the report goes to the checkout's build/.
REPORT = os.path.join(os.environ.get("MOLECULE_PROJECT_DIRECTORY", "/tmp"), "build", "maintenance-report.txt")
LOCK_TIMEOUT = 10
CONFIG = "/etc/uvfleet/config.json"
# with explicit paths the node command takes no exclusions from the config: uv's 0666 locks
AUDIT = "uvfleet audit --compact '--exclude=*.lock' -- "


@pytest.fixture(scope="module", autouse=True)
def quiet_cron(host):
    """alice's channel-probe cron job runs uv every minute: pause it, so that only the tests act."""
    host.run("systemctl stop cron")
    yield
    host.run("systemctl start cron")


def samples(text):
    """{(name, frozenset(labels)): value}, parsed by prometheus_client (the reference parser)."""
    out = {}
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("uvfleet_"), family.name
        assert family.documentation, family.name
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def by(table, name, key, **match):
    """{labels[key]: value} of the series of one metric whose labels contain match."""
    out = {}
    for (n, labels), v in table.items():
        labels = dict(labels)
        if n == name and all(labels.get(k) == val for k, val in match.items()):
            out[labels[key]] = v
    return out


def value(table, name, **labels):
    return table.get((name, frozenset(labels.items())))


def metrics(host):
    return samples(host.file(METRICS).content_string)


def start_service(host):
    """`systemctl start` (a oneshot: returns when the run has ended); (rc, seconds, result, exit status)."""
    begin = time.time()
    started = host.run("systemctl start %s.service", UNIT)
    wall = time.time() - begin
    show = dict(line.split("=", 1) for line in host.check_output(
        "systemctl show %s.service -p Result -p ExecMainStatus -p ExecMainStartTimestampMonotonic "
        "-p ExecMainExitTimestampMonotonic", UNIT).splitlines())
    run_time = (int(show["ExecMainExitTimestampMonotonic"]) - int(show["ExecMainStartTimestampMonotonic"])) / 1e6
    return started, wall, run_time, show


def last_summary(host):
    lines = host.check_output("journalctl -u %s.service -o cat --no-pager | grep '^uvfleet maintain: '", UNIT)
    return lines.splitlines()[-1]


def report(text):
    with open(REPORT, "a") as handle:
        handle.write(text + "\n")


def test_systemd_analyze_verify_accepts_both_units(host):
    result = host.run("systemd-analyze verify /etc/systemd/system/%s.service /etc/systemd/system/%s.timer",
                      UNIT, UNIT)
    assert result.rc == 0, explain(result)
    assert UNIT not in result.stderr, explain(result)


def test_the_timer_is_active_with_the_configured_schedule(host):
    assert host.check_output("systemctl is-enabled %s.timer", UNIT) == "enabled"
    assert host.check_output("systemctl is-active %s.timer", UNIT) == "active"
    show = host.check_output("systemctl show %s.timer -p TimersCalendar -p RandomizedDelayUSec -p AccuracyUSec "
                             "-p Persistent -p FixedRandomDelay -p NextElapseUSecRealtime", UNIT)
    assert "OnCalendar=*-*-* 04:00:00" in show, show
    assert "RandomizedDelayUSec=30min" in show and "AccuracyUSec=1s" in show, show
    assert "Persistent=yes" in show and "FixedRandomDelay=yes" in show, show
    assert "NextElapseUSecRealtime=\n" not in show + "\n", show
    # the job has not run yet: the timer is the only way in, until a test starts it
    assert not host.file(METRICS).exists


def test_the_service_is_hardened(host):
    exposure = host.check_output("systemd-analyze security --no-pager %s.service | tail -n 1", UNIT)
    report("systemd-analyze security: " + exposure)
    score = float(exposure.split("exposure level for %s.service: " % UNIT)[1].split()[0])
    assert score <= 5.0, exposure


def test_normal_member_activity_leaves_a_clean_audit(host):
    # The activity is real: uv gave others x on the executables it unpacked and generated.
    exec_files = host.check_output("find %s %s -type f -perm -o+x | wc -l", CACHE, TOOL_DIR)
    assert int(exec_files) > 20, exec_files
    for paths, tolerated in (([CACHE, PYTHON_DIR], set()), ([TOOL_DIR, BIN_DIR], {"symlink_outside"})):
        audit = json.loads(ok(host.run(AUDIT + " ".join(paths))).stdout)
        assert set(audit["findings"]) <= tolerated, audit
    report("executable files with others x after member activity (no finding): %s" % exec_files)


def test_the_service_repairs_the_damage_prunes_and_writes_metrics_that_match(host):
    # bob's fresh venv later installs this set offline: what venvs use must survive the prune
    ok(uv(host, "alice", "pip install -p ~/app --offline --reinstall black six"))
    damage = json.loads(ok(host.run("python3 -c %s %s %s", open(DAMAGE).read(), CACHE, TOOL_DIR)).stdout)
    shadow = host.check_output("sha256sum /etc/shadow")

    started, wall, run_time, show = start_service(host)
    assert started.rc == 0, explain(started)
    assert show["Result"] == "success" and show["ExecMainStatus"] == "0", show
    text = host.file(METRICS).content_string
    report("service run time on the scenario's cache: %.2f s (systemctl start: %.2f s)" % (run_time, wall))
    report("metrics file %s:\n%s" % (METRICS, text))
    m = samples(text)

    # the numbers equal the damage
    assert by(m, "uvfleet_perms_findings", "kind", dir=CACHE) == damage["cache"]
    tools = by(m, "uvfleet_perms_findings", "kind", dir=TOOL_DIR)
    tools.pop("symlink_outside", None)  # tool venvs link to their Python by design
    assert tools == damage["tools"]
    assert by(m, "uvfleet_perms_findings", "kind", dir=PYTHON_DIR) == {}
    remaining = dict(((dict(l)["dir"], dict(l)["kind"]), v) for (n, l), v in m.items()
                     if n == "uvfleet_perms_findings_remaining")
    # bob's tool venv links to the system Python (reported, never followed or changed)
    assert remaining.pop((TOOL_DIR, "symlink_outside"), 0) == 3
    assert remaining == {(CACHE, "symlink_outside"): 1}
    for path in SHARED_DIRS:
        assert value(m, "uvfleet_perms_entries_repaired", dir=path) == damage["repaired"].get(path, 0), path
        assert value(m, "uvfleet_perms_repair_success", dir=path) == 1
        assert value(m, "uvfleet_perms_entries_scanned", dir=path) > 0
    assert value(m, "uvfleet_maintenance_success") == 1
    assert value(m, "uvfleet_maintenance_last_success_timestamp_seconds") == \
        value(m, "uvfleet_maintenance_last_run_timestamp_seconds")
    assert abs(value(m, "uvfleet_maintenance_last_run_timestamp_seconds") - time.time()) < 120
    assert by(m, "uvfleet_cache_prune_outcome", "outcome") == {"pruned": 1, "skipped": 0, "failed": 0, "off": 0}
    assert value(m, "uvfleet_cache_prune_removed_files") >= damage["orphan_files"]
    size = host.check_output("find %s -type f -printf '%%b\\n' | awk '{s += $1 * 512} END {print s}'", CACHE)
    entries = host.check_output("find %s -mindepth 1 | wc -l", CACHE)
    assert value(m, "uvfleet_cache_size_bytes") == int(size)
    assert value(m, "uvfleet_cache_entries") == int(entries)
    assert "uvfleet maintain: ok" in last_summary(host)

    # the tree is repaired (the planted symlink is gone with the prune, its target untouched)
    audit = json.loads(ok(host.run(AUDIT + CACHE + " " + PYTHON_DIR)).stdout)
    assert audit["findings"] == {}, audit
    assert host.check_output("sha256sum /etc/shadow") == shadow
    assert not host.file(damage["planted"]).exists
    for path in damage["paths"]["dir_not_setgid"]:
        assert host.file(path).mode & 0o2000
    # prune removed the unreferenced entry and kept what installs use
    assert not host.file(damage["orphan"]).exists
    ok(as_user(host, "alice", "~/app/bin/black --version && ~/app/bin/normalizer --version"))
    ok(uv(host, "bob", "venv -q --clear ~/fresh"))
    ok(uv(host, "bob", "pip install -p ~/fresh --offline black six"))
    ok(as_user(host, "bob", "~/fresh/bin/black --version"))


def test_the_next_run_is_incremental_and_a_policy_change_makes_it_full(host):
    """After a clean run the job's repair keeps the verdicts of what did not change; a policy change means full."""
    # the tests' own `uvfleet audit`s (another policy: no link roots) keep their own state of the cache: the
    # job's next run is full, and leaves the job's state; the one after it is incremental
    started, _wall, first_time, show = start_service(host)
    assert started.rc == 0 and show["Result"] == "success", (explain(started), show)
    report("the job's run after the tests' audits: %.2f s (%s)" % (first_time, last_summary(host)))
    started, _wall, incr_time, show = start_service(host)
    assert started.rc == 0 and show["Result"] == "success", (explain(started), show)
    m = metrics(host)
    for path in SHARED_DIRS:
        assert value(m, "uvfleet_perms_repair_incremental", dir=path) == 1, path
    checked = value(m, "uvfleet_perms_entries_checked_in_full", dir=CACHE)
    scanned = value(m, "uvfleet_perms_entries_scanned", dir=CACHE)
    assert checked < scanned / 2, (checked, scanned)
    assert "%s incremental " % CACHE in last_summary(host), last_summary(host)
    report("incremental run: %.2f s, cache: %d of %d entries checked in full" % (incr_time, checked, scanned))
    config = host.file(CONFIG).content_string
    changed = json.loads(config)
    changed["exclude"] = list(changed.get("exclude") or []) + ["no-such-dir/*"]  # one more exclusion
    write_config(host, json.dumps(changed))
    try:
        started, _wall, full_time, show = start_service(host)
    finally:
        write_config(host, config)
    assert started.rc == 0 and show["Result"] == "success", (explain(started), show)
    m = metrics(host)
    # the exclusions apply to the group-writable dirs, not to read-only managed ones
    read_only = json.loads(config).get("read_only_dirs") or []
    for path in SHARED_DIRS:
        expected = 1 if path in read_only else 0
        assert value(m, "uvfleet_perms_repair_incremental", dir=path) == expected, path
    assert value(m, "uvfleet_perms_entries_checked_in_full", dir=CACHE) == \
        value(m, "uvfleet_perms_entries_scanned", dir=CACHE)
    assert "%s full " % CACHE in last_summary(host), last_summary(host)
    report("full run after a policy change: %.2f s" % full_time)
    # three starts within seconds: systemd's start limit (5 in 10 s) is not the next test's business
    host.run("systemctl reset-failed %s.service", UNIT)


def write_config(host, text):
    ok(host.run("printf %%s %s | base64 -d > %s", base64.b64encode(text.encode()).decode(), CONFIG))


def test_a_running_uv_command_makes_the_prune_wait_then_skip_and_it_completes(host):
    orphan = CACHE + "/archive-v0/orphan-during-a-long-run"
    ok(host.run("cp -a %s %s", host.check_output("ls -d %s/archive-v0/*/ | head -n 1", CACHE).rstrip("/"), orphan))
    host.run("systemctl reset-failed uvfleet-test-holder.service")
    # a long `uv run` of alice's holds uv's shared cache lock for as long as it runs
    hold = 4 * LOCK_TIMEOUT
    ok(host.run("systemd-run --unit=uvfleet-test-holder --service-type=exec runuser -l alice -c %s",
                "uv run --no-project --with six -- python -c 'import six, time; time.sleep(%d); print(\"done\")'"
                % hold))
    deadline = time.time() + 30
    while host.run("flock -n -x %s/.lock true", CACHE).rc == 0:
        assert time.time() < deadline, "uv run never took the cache lock"
        time.sleep(0.5)

    started, wall, run_time, show = start_service(host)
    assert started.rc == 0 and show["Result"] == "success", (explain(started), show)
    assert LOCK_TIMEOUT <= run_time < hold, run_time
    report("service run time with the cache lock held by a uv run: %.2f s (UV_LOCK_TIMEOUT %d)"
           % (run_time, LOCK_TIMEOUT))
    assert host.check_output("systemctl is-active uvfleet-test-holder.service") == "active"
    m = metrics(host)
    assert by(m, "uvfleet_cache_prune_outcome", "outcome") == {"pruned": 0, "skipped": 1, "failed": 0, "off": 0}
    assert value(m, "uvfleet_maintenance_success") == 1
    assert "prune skipped" in last_summary(host) and "UV_LOCK_TIMEOUT" in last_summary(host)
    assert host.file(orphan).is_directory  # nothing deleted under the running command

    deadline = time.time() + hold + 60
    while host.check_output("systemctl show -p SubState --value uvfleet-test-holder.service") in ("running", "start"):
        assert time.time() < deadline, "the uv run never ended"
        time.sleep(1)
    holder = host.check_output("systemctl show -p Result -p ExecMainStatus uvfleet-test-holder.service")
    assert "Result=success" in holder and "ExecMainStatus=0" in holder, holder
    assert "done" in host.check_output("journalctl -u uvfleet-test-holder.service -o cat --no-pager")

    # the next round, with no uv command running, prunes
    started, _wall, _run_time, show = start_service(host)
    assert started.rc == 0 and show["Result"] == "success"
    assert by(metrics(host), "uvfleet_cache_prune_outcome", "outcome")["pruned"] == 1
    assert not host.file(orphan).exists


def test_a_failed_run_shows_in_the_metrics_and_the_journal(host):
    before = metrics(host)
    last_success = value(before, "uvfleet_maintenance_last_success_timestamp_seconds")
    # an admin's mistake: the real uv writable by the group; root must not run it
    ok(host.run("chmod g+w /usr/local/lib/uvfleet/bin/uv"))
    try:
        started, _wall, _run_time, show = start_service(host)
    finally:
        ok(host.run("chmod g-w /usr/local/lib/uvfleet/bin/uv"))
    assert started.rc != 0
    assert show["Result"] == "exit-code" and show["ExecMainStatus"] == "1", show
    assert host.check_output("systemctl is-failed %s.service || true", UNIT) == "failed"
    summary = last_summary(host)
    assert summary.startswith("uvfleet maintain: FAILED") and "prune failed" in summary, summary
    m = metrics(host)
    assert value(m, "uvfleet_maintenance_success") == 0
    assert value(m, "uvfleet_maintenance_last_success_timestamp_seconds") == last_success
    assert value(m, "uvfleet_maintenance_last_run_timestamp_seconds") > last_success
    assert by(m, "uvfleet_cache_prune_outcome", "outcome")["failed"] == 1
    assert value(m, "uvfleet_perms_repair_success", dir=CACHE) == 1  # the repair itself went fine
    host.run("systemctl reset-failed %s.service", UNIT)


def test_members_cannot_change_the_job_or_its_output(host):
    for path in ("/etc/systemd/system/%s.service" % UNIT, "/etc/systemd/system/%s.timer" % UNIT, METRICS,
                 "/usr/local/bin/uvfleet", "/etc/uvfleet/config.json"):
        f = host.file(path)
        assert f.user == "root" and f.mode & 0o022 == 0, path
    denied = as_user(host, "alice", "uvfleet maintain")
    assert denied.rc == 2 and "run it as root" in denied.stderr, explain(denied)


# -- the content check: a job of its own, on its own slower timer --------------

VERIFY = "uvfleet-verify"
CONTENT_METRICS = "/var/lib/prometheus/node-exporter/uvfleet_content.prom"
RECORD_DIR = "/var/lib/uvfleet/content"
TIB = 1 << 40


def start_verify(host):
    started = host.run("systemctl start %s.service", VERIFY)
    show = host.check_output("systemctl show %s.service -p Result -p ExecMainStatus", VERIFY)
    return started, show, samples(host.file(CONTENT_METRICS).content_string)


def test_the_content_check_has_its_own_slower_timer_and_hardened_unit(host):
    result = host.run("systemd-analyze verify /etc/systemd/system/%s.service /etc/systemd/system/%s.timer",
                      VERIFY, VERIFY)
    assert result.rc == 0 and VERIFY not in result.stderr, explain(result)
    assert host.check_output("systemctl is-active %s.timer", VERIFY) == "active"
    show = host.check_output("systemctl show %s.timer -p TimersCalendar -p RandomizedDelayUSec -p Persistent", VERIFY)
    assert "OnCalendar=Sun *-*-* 05:00:00" in show and "RandomizedDelayUSec=2h" in show, show
    assert "Persistent=yes" in show, show
    # it writes nothing but its textfile and its record (report only: no quarantine configured)
    rw = host.check_output("systemctl show -p ReadWritePaths --value %s.service", VERIFY)
    assert rw.split() == ["/var/lib/prometheus/node-exporter", RECORD_DIR], rw
    record_dir = host.file(RECORD_DIR)
    assert record_dir.is_directory and record_dir.user == "root" and record_dir.mode == 0o700
    exposure = host.check_output("systemd-analyze security --no-pager %s.service | tail -n 1", VERIFY)
    assert float(exposure.split("exposure level for %s.service: " % VERIFY)[1].split()[0]) <= 5.0, exposure
    assert not host.file(CONTENT_METRICS).exists  # not run yet: the timer is the only way in


def test_a_module_a_member_rewrote_shows_in_the_content_metrics_until_it_is_quarantined(host):
    # bob (a member: the group writes the cache) rewrites a cached module every venv links to
    target = host.check_output("ls -d %s/archive-v0/*/six.py | head -n 1", CACHE)
    ok(as_user(host, "bob", "printf 'import os  # poisoned\\n' >> %s" % target))
    before = host.check_output("sha256sum %s", target)

    started, show, m = start_verify(host)
    assert started.rc == 0 and "Result=success" in show, (explain(started), show)
    report("content check metrics (%s):\n%s" % (CONTENT_METRICS, host.file(CONTENT_METRICS).content_string))
    assert value(m, "uvfleet_content_check_success") == 1
    assert value(m, "uvfleet_content_entries_remaining_bad") == 1
    bad = by(m, "uvfleet_content_findings", "kind", **{"class": "bad"})
    assert sum(bad.values()) >= 1 and set(k for k, v in bad.items() if v) <= {"wrong_size", "wrong_hash"}, bad
    assert value(m, "uvfleet_content_files", state="verified") > 100
    assert value(m, "uvfleet_content_entries_quarantined") == 0
    # report only: the entry is where it was, untouched by root
    assert host.check_output("sha256sum %s", target) == before
    assert '"remaining":[' in host.check_output("journalctl -u %s.service -o cat --no-pager | grep '^{' | tail -n 1", VERIFY)

    # the admin quarantines it by hand; the next scheduled run reports a clean cache
    ok(host.run("uvfleet verify --repair --compact"))
    assert not host.file(target).exists
    started, show, m = start_verify(host)
    assert started.rc == 0 and "Result=success" in show, (explain(started), show)
    assert value(m, "uvfleet_content_entries_remaining_bad") == 0
    assert host.file(CONTENT_METRICS).user == "root" and host.file(CONTENT_METRICS).mode == 0o644


# bob's sparse file of 8 TiB (no block on disk) in an entry of his with a RECORD that claims it
SPARSE = """
import os, sys
entry = sys.argv[1]
os.makedirs(os.path.join(entry, "big-1.0.dist-info"))
with open(os.path.join(entry, "big.bin"), "wb") as handle:
    handle.truncate(8 << 40)
with open(os.path.join(entry, "big-1.0.dist-info", "RECORD"), "w") as handle:
    handle.write("big.bin,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,%d\\nbig-1.0.dist-info/RECORD,,\\n" % (8 << 40))
"""


def test_the_job_finds_a_consistent_rewrite_and_says_what_it_could_not_hash(host):
    module = host.check_output("ls -d %s/archive-v0/*/markupsafe/__init__.py | head -n 1", CACHE)
    entry = module[:-len("/markupsafe/__init__.py")]
    rewrite_with_record(host, "bob", entry, "markupsafe/__init__.py", "import os  # bob was here")
    # RECORD alone cannot tell (the hole of issue 18)
    assert json.loads(ok(host.run("uvfleet verify --compact --no-record")).stdout)["remaining"] == []
    planted = CACHE + "/archive-v0/bobs-entry"
    ok(as_user(host, "bob", "echo %s | base64 -d | python3 - %s" % (base64.b64encode(SPARSE.encode()).decode(), planted)))
    assert int(host.check_output("stat -c %%b %s/big.bin", planted)) < 64

    started, show, m = start_verify(host)
    assert started.rc == 0 and "Result=success" in show, (explain(started), show)
    text = host.file(CONTENT_METRICS).content_string
    report("content check metrics after a consistent rewrite and a sparse file:\n%s" % text)
    # the rewrite, against the record the job's earlier runs kept
    assert value(m, "uvfleet_content_entries_remaining_bad") == 1
    assert value(m, "uvfleet_content_findings", kind="rewritten", **{"class": "bad"}) == 2
    assert value(m, "uvfleet_content_record_saved") == 1
    assert value(m, "uvfleet_content_record_entries", state="known") > 10
    # the sparse file: not hashed, and said so
    assert value(m, "uvfleet_content_check_complete") == 0
    assert value(m, "uvfleet_content_skipped_files", reason="file_size") == 1
    assert value(m, "uvfleet_content_skipped_bytes") == 8 * TIB
    assert value(m, "uvfleet_content_bytes_hashed") < 1 << 30
    line = host.check_output("journalctl -u %s.service -o cat --no-pager | grep '^uvfleet verify: ' | tail -n 1",
                             VERIFY)
    assert line.startswith("uvfleet verify: BAD: ") and "1 files (file_size)" in line, line
    assert entry[len(CACHE) + len("/archive-v0/"):] in line
    run_time = host.check_output("systemctl show %s.service -p ExecMainStartTimestampMonotonic "
                                 "-p ExecMainExitTimestampMonotonic", VERIFY)
    report("content check with an 8 TiB sparse file planted: %s" % run_time.replace("\n", ", "))

    # the admin quarantines the rewritten entry and removes bob's; the next run is clean and complete
    ok(host.run("uvfleet verify --repair --compact"))
    ok(host.run("rm -rf %s", planted))
    started, show, m = start_verify(host)
    assert started.rc == 0 and "Result=success" in show, (explain(started), show)
    assert value(m, "uvfleet_content_entries_remaining_bad") == 0
    assert value(m, "uvfleet_content_check_complete") == 1
