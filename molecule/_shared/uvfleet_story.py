"""Helpers for the uvfleet.uv.shared scenarios: users act through real login shells.

The base config (.config/molecule/config.yml, verifier env) puts this directory on
the verifier's PYTHONPATH; the scenario's conftest.py defines the
``expect`` fixture (what this scenario promises: ACLs or the umask fallback, the
link mode, ...).
"""
import json
import time

GROUP = "uvshared"
GID = 2790
CACHE = "/var/cache/uv"
PYTHON_DIR = "/opt/uv/python"
BIN_DIR = "/opt/uv/bin"
TOOL_DIR = "/opt/uv/tools"
SHARED_DIRS = [CACHE, PYTHON_DIR, BIN_DIR, TOOL_DIR]
WRAPPER = "/usr/local/bin/uv"
REAL_UV = "/usr/local/lib/uvfleet/bin/uv"
WHEELHOUSE = "/srv/wheelhouse"


def as_user(host, user, command):
    """Run a command in a login shell of user (their umask, their PATH)."""
    return host.run("runuser -l %s -c %s", user, command)


def explain(result):
    return "rc=%s\n--- stdout\n%s\n--- stderr\n%s" % (result.rc, result.stdout, result.stderr)


def ok(result):
    assert result.rc == 0, explain(result)
    return result


def uv(host, user, args):
    return as_user(host, user, "uv " + args)


def new_venv(host, user, name):
    ok(uv(host, user, "venv -q --clear ~/%s" % name))


def imports(host, user, venv, modules):
    return ok(as_user(host, user, "~/%s/bin/python -c 'import %s'" % (venv, ", ".join(modules))))


def tree_state(host, path=CACHE):
    """Listing with size, mode, owner, group and mtime of every entry: any change shows."""
    return ok(host.run("find %s -printf '%%P %%s %%m %%u %%g %%T@\\n' | sort | sha256sum", path)).stdout


def read_kv(host, path):
    return dict(line.split("=", 1) for line in host.file(path).content_string.splitlines() if "=" in line)


def wait_for(predicate, timeout, what, interval=2):
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def file_mtime(host, path):
    result = host.run("stat -c %%Y %s", path)
    return int(result.stdout) if result.rc == 0 else None


def audit(host, paths, acl="auto"):
    """cache_perms in check mode (an audit that changes nothing), as root."""
    return host.ansible(
        "uvfleet.uv.cache_perms",
        json.dumps({"path": paths, "group": GROUP, "repair": False, "acl": acl, "exclude": ["*.lock"]}),
        check=True, become=True,
    )


def python_version(host):
    return ok(host.run("python3 -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])'")).stdout.strip()


def run_concurrently(host, jobs):
    """jobs: list of (user, venv, packages). Start all at once, wait, return {(user, venv): rc}."""
    lines = ["set -u", "rm -rf /tmp/uvfleet-conc && mkdir -p /tmp/uvfleet-conc"]
    for user, venv, packages in jobs:
        cmd = "uv venv -q --clear ~/%s && uv pip install -q -p ~/%s %s" % (venv, venv, " ".join(packages))
        lines.append("runuser -l %s -c '%s' > /tmp/uvfleet-conc/%s-%s.log 2>&1 & echo \"$! %s %s\" >> /tmp/uvfleet-conc/pids"
                     % (user, cmd, user, venv, user, venv))
    lines.append("while read -r pid user venv; do wait \"$pid\"; echo \"$user $venv $?\"; done < /tmp/uvfleet-conc/pids")
    result = ok(host.run("bash -c %s", "\n".join(lines)))
    rcs = {}
    for line in result.stdout.split("\n"):
        if line.strip():
            user, venv, rc = line.split()
            rcs[(user, venv)] = int(rc)
    logs = host.run("tail -n 20 /tmp/uvfleet-conc/*.log").stdout
    return rcs, logs
