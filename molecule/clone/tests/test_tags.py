"""The site playbook with one tag runs that phase of the shared role and nothing else.

Both phases' state is damaged first (uv.toml deleted: the configuration phase puts it
back; the cache directory's mode changed: the directories phase puts it back), then
`uvfleet.uv.site` runs with `--tags uv_shared_config` and then `--tags uv_shared_dirs`,
as an admin would, with Molecule's inventory; the JSON callback lists the tasks that ran.
"""
import configparser
import json
import os
import subprocess

from uvfleet_story import ok

CACHE = "/xfs/uv/cache"
TOML = "/etc/uv/uv.toml"
# Tasks each phase owns (a few distinctive names per phase).
PHASE_TASKS = {
    "install": {"Look at the machine, the installed uv and uvx and the bin dir"},
    "group": {"Add the members to the shared group (their other groups are kept)", "Look up the accounts"},
    "dirs": {"Set the default ACLs and bring the shared directories (and existing content) under the group"},
    # the look runs on every run of the phase; the writes only where something differs
    "config": {"Look at what this role writes on the node, the real binaries and the node command's library",
               "Write the system uv.toml (validated by uv before it replaces the previous one)",
               "Install the uv and uvx wrappers"},
    "selfcheck": {"Audit the shared directories (cache_perms, audit only)"},
}


def site(tag):
    """Run uvfleet.uv.site with one tag; return {task name: changed} of the tasks that ran."""
    inventory = os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
    # Molecule's ansible.cfg, without its extra callbacks (they print into the JSON).
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(os.environ["ANSIBLE_CONFIG"])
    cfg.remove_option("defaults", "callbacks_enabled")
    cfg_path = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "ansible-tags-test.cfg")
    with open(cfg_path, "w") as handle:
        cfg.write(handle)
    env = dict(os.environ, ANSIBLE_CONFIG=cfg_path, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    proc = subprocess.run(["ansible-playbook", "-i", inventory, "uvfleet.uv.site", "--tags", tag],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, check=False)
    assert proc.returncode == 0, proc.stdout.decode()[-3000:] + proc.stderr.decode()[-2000:]
    ran = {}
    for play in json.loads(proc.stdout.decode())["plays"]:
        for task in play["tasks"]:
            results = [r for r in task["hosts"].values() if not r.get("skipped")]
            if results:
                # the JSON callback names a role task "ROLE : NAME"
                ran[task["task"]["name"].split(" : ", 1)[-1]] = any(r.get("changed") for r in results)
    return ran


def phases_that_ran(ran):
    return {phase for phase, names in PHASE_TASKS.items() if names & set(ran)}


def test_one_tag_runs_one_phase(host):
    ok(host.run("rm -f %s && chmod 2750 %s", TOML, CACHE))

    ran = site("uv_shared_config")
    assert phases_that_ran(ran) == {"config"}, sorted(ran)
    assert ran["Write the system uv.toml (validated by uv before it replaces the previous one)"] is True
    # The configuration phase probed the file systems itself: link-mode is clone again.
    assert 'link-mode = "clone"' in host.file(TOML).content_string
    assert host.file(CACHE).mode == 0o2750, "the directories phase ran under uv_shared_config"

    before = ok(host.run("stat -c %%Y.%%i %s", TOML)).stdout
    ran = site("uv_shared_dirs")
    assert phases_that_ran(ran) == {"dirs"}, sorted(ran)
    assert host.file(CACHE).mode == 0o2770
    assert ok(host.run("stat -c %%Y.%%i %s", TOML)).stdout == before, "uv.toml was rewritten under uv_shared_dirs"


def test_validation_runs_under_every_tag(host):
    ran = site("uv_shared_selfcheck")
    assert phases_that_ran(ran) == {"selfcheck"}, sorted(ran)
    assert "Check the group options" in ran  # validate.yml, tagged always
    assert not any(ran.values()), [name for name, changed in ran.items() if changed]
