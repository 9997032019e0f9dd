"""Run a playbook from a test as an admin would: the real ansible-playbook, Molecule's
inventory and ansible.cfg (without its extra callbacks), the JSON callback for the result."""
import configparser
import json
import os
import subprocess


def playbook(args, extra_inventory=None):
    """ansible-playbook ARGS against the scenario's nodes; (returncode, {host: stats}, tasks, output).

    ``tasks``: [(task name, {host: result})] of every task that ran; ``extra_inventory``: the
    text of one more INI inventory (a group the scenario's hosts are added to).
    """
    eph = os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]
    inventories = ["-i", os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])]
    if extra_inventory:
        extra = os.path.join(eph, "test-extra-inventory.ini")
        with open(extra, "w") as handle:
            handle.write(extra_inventory)
        inventories += ["-i", extra]
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(os.environ["ANSIBLE_CONFIG"])
    cfg.remove_option("defaults", "callbacks_enabled")
    cfg_path = os.path.join(eph, "ansible-test-run.cfg")
    with open(cfg_path, "w") as handle:
        cfg.write(handle)
    env = dict(os.environ, ANSIBLE_CONFIG=cfg_path, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    proc = subprocess.run(["ansible-playbook"] + inventories + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, check=False)
    out = proc.stdout.decode()
    try:
        data = json.loads(out[out.index("{"):])
    except ValueError:
        return proc.returncode, {}, [], out + proc.stderr.decode()
    tasks = [(task["task"]["name"].split(" : ", 1)[-1], task["hosts"])
             for play in data["plays"] for task in play["tasks"]]
    return proc.returncode, data.get("stats", {}), tasks, out[-4000:] + proc.stderr.decode()[-2000:]


def failures(tasks):
    """The messages of the failed task results, in order."""
    return [result.get("msg", "") for _name, hosts in tasks for result in hosts.values() if result.get("failed")]


def changed(tasks):
    """The names of the tasks that reported a change."""
    return [name for name, hosts in tasks if any(result.get("changed") for result in hosts.values())]
