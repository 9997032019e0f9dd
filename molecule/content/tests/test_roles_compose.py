"""The roles as a user meets them, after the content story (issue 23): what may never be a
shared directory is refused by the engine before anything changes on the node; the README's
play of both roles works as written (the text is read from README.md)."""
import json
import os
import re

import pytest
import yaml

from playbook_run import changed, failures, playbook
from uvfleet_story import CACHE, REAL_UV, WRAPPER, as_user, explain, ok


@pytest.mark.parametrize("path, below", [("/mnt", "/"), ("/var/log/x", "/var/log"), ("/etc/uvcache", "/etc")])
def test_a_system_directory_is_refused_before_anything_changes(host, path, below):
    # a group and worker account that do not exist: were the refusal late, they would be made
    new = ["-e", "uv_shared_group=uvrefused", "-e", "uv_shared_group_gid=2791", "-e", "uv_shared_worker_user=_uvrefused",
           "-e", "uv_shared_cache_dir=" + path]
    # (host.run quotes each argument itself)
    look = ("stat -c '%%n %%a %%U:%%G %%i %%Y' %s %s 2>&1; getent group uvrefused; getent passwd _uvrefused; "
            "ls -ld --full-time /usr/local/lib/uvfleet/bin/uv /etc/uv/uv.toml")
    before = ok(host.run(look, path, below))
    assert below + " " in before.stdout, before.stdout
    rc, stats, tasks, out = playbook(["uvfleet.uv.site"] + new)
    assert rc == 2, out
    assert stats and all(s["changed"] == 0 for s in stats.values()), (stats, out)
    messages = " ".join(failures(tasks))
    assert "refusing to work on" in messages and path in messages, messages or out
    assert "Nothing was changed" in messages, messages
    after = host.run(look, path, below)
    assert after.stdout == before.stdout, explain(after)
    assert "uvrefused" not in after.stdout


TASKS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "shared", "tasks")


def task_names(*files):
    """The names of the tasks (blocks included) of the shared role's task files."""
    names = set()

    def walk(items):
        for item in items or ():
            names.add(item.get("name"))
            for key in ("block", "rescue", "always"):
                walk(item.get(key))
    for name in files:
        with open(os.path.join(TASKS, name)) as handle:
            walk(yaml.safe_load(handle))
    return names


# what runs under every tag: the inventory check, the option checks, the lookups the phases share;
# and the includes of the role and its phases
ALWAYS = task_names("validate.yml", "target.yml", "placement.yml", "real_uv.yml", "main.yml", "present.yml") | {
    "Fail when no host of the inventory matches uvfleet_hosts (default the group uv_nodes)",
    "Set up the shared group, directories, uv.toml and wrappers",
    "Validating arguments against arg spec 'main' - One uv cache for a group of users, on one node or a cluster",
    "Check the options of the shared setup before anything changes", "Look up the shared group",
    "Note whether the group exists yet"}


@pytest.mark.parametrize("tag, files", [
    ("uv_shared_pythons_tools", ["pythons_tools.yml", "lib_stage.yml", "tools_absent.yml"]),
    ("uv_shared_jobs", ["maintenance.yml", "maintenance_job.yml", "maintenance_absent.yml",
                        "maintenance_units_absent.yml"]),
])
def test_each_phase_runs_alone_under_its_tag(tag, files):
    rc, _stats, tasks, out = playbook(["uvfleet.uv.site", "--tags", tag])
    assert rc == 0, out
    ran = {name for name, hosts in tasks if any(not r.get("skipped") for r in hosts.values())}
    phase = task_names(*files)
    assert ran & phase, (tag, sorted(ran))
    assert ran - phase - ALWAYS == set(), (tag, sorted(ran - phase - ALWAYS))


README = os.path.join(os.path.dirname(__file__), "..", "..", "..", "README.md")


def readme_play():
    """The play of README.md's "the roles in your own play", as the README prints it."""
    with open(README) as handle:
        text = handle.read()
    after = text.split("or the roles in your own play:", 1)[1]
    block = re.search(r"^```yaml\n(.*?)^```$", after, re.S | re.M)
    assert block, "README.md: no yaml block after 'or the roles in your own play:'"
    return block.group(1)


def test_the_readme_play_works_as_written_where_uv_and_the_setup_were_removed(host):
    # back to a node without uv, the shared directories (purged with what the story left in
    # them), the wrappers, uv.toml and node command: the group and its members stay
    gone = {"uv_shared_state": "absent", "uv_shared_purge": True, "uv_install_state": "absent"}
    rc, _stats, _tasks, out = playbook(["uvfleet.uv.site", "-e", json.dumps(gone)])
    assert rc == 0, out
    assert not host.file(WRAPPER).exists and not host.file(REAL_UV).exists and not host.file(CACHE).exists

    play = readme_play()
    assert "uvfleet.uv.install" in play and "uvfleet.uv.shared" in play and "gpu_servers" in play, play
    path = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "readme-play.yml")
    with open(path, "w") as handle:
        handle.write(play)
    # the README's hosts: gpu_servers, in the scenario's inventory the group uv_nodes
    rc, stats, _tasks, out = playbook([path], extra_inventory="[gpu_servers:children]\nuv_nodes\n")
    assert rc == 0, out
    wrapper = host.file(WRAPPER)
    assert wrapper.is_file and "# uvfleet.uv.shared wrapper" in wrapper.content_string, "no wrapper at " + WRAPPER
    real = host.file(REAL_UV)
    assert real.is_file and not real.is_symlink and (real.user, real.mode) == ("root", 0o755)
    assert ok(as_user(host, "alice", "uv cache dir")).stdout.strip() == CACHE
    version = re.search(r'uv_install_version: "([^"]+)"', play)
    assert ok(as_user(host, "bob", "uv --version")).stdout.startswith("uv " + (version.group(1) if version else ""))
    rc, stats, tasks, out = playbook([path], extra_inventory="[gpu_servers:children]\nuv_nodes\n")
    assert rc == 0 and all(s["changed"] == 0 for s in stats.values()), (changed(tasks), stats, out[-1500:])
