# uvfleet.uv.shared: the Pythons the play installs into the shared Python install dir.
#
#   shared-pythons.py JSON
#
# JSON: {"uv": "/usr/local/bin/uv", "dir": "/opt/uv/python", "record": FILE,
#        "requests": ["3.12", ...], "prune": false, "check": false, "umask": "0027",
#        "managed": true, "fresh": false, "worker": "_uvfleet", "group": "uvshared",
#        "lib": "/usr/local/lib/uvfleet/lib"}
#
# Run by the role with the node's python3 (ansible.builtin.script), as root, through the
# uv wrapper (which sets UV_PYTHON_INSTALL_DIR and UV_PYTHON_BIN_DIR), with the node
# command's library ("lib", uvfleet/pythons_tools/installs.py):
#
# - managed: the dir holds only root's files (tasks/pythons_tools.yml verifies that
#   first, after managed-retire.py retired anything else), and root's uv looks only
#   there (--managed-python, a PATH of system dirs, working directory /): it never runs an interpreter a member could have written.
# - collaborative: members can change every interpreter there, and uv runs the ones it
#   finds, so every uv command runs as the worker account (installs.Runner), never as
#   root. Root only writes its record FILE.
#
# A request that an installed Python already satisfies is not installed again, and
# nothing is downloaded for it (uv python find --no-python-downloads). The record FILE
# lists the installation keys root's play installed; with prune, a key the requests no
# longer need is uninstalled. A key someone else installed is never pruned. "fresh"
# (check mode, the dir is to be retired): the dir is taken as empty and uv is not run.
# Prints one JSON object: changed, installed, pruned, kept (request -> key), record.
import json
import os
import sys


def fail(msg, result=None):
    if result is not None:
        msg += " (uv exit %s): %s" % (result.returncode, (result.stderr or result.stdout).strip()[-2000:])
    print(json.dumps({"failed": True, "msg": msg}))
    sys.exit(1)


def key_of(installs, uv, conf, request):
    """The installation key in conf["dir"] that satisfies request, or None."""
    found = uv.run("python", "find", "--managed-python", "--no-python-downloads", "--no-project", request)
    if found.returncode != 0:
        return None
    return installs.install_key(conf["dir"], found.stdout.strip())


def read_record(path):
    try:
        with open(path) as f:
            return sorted(set(json.load(f)))
    except FileNotFoundError:
        return []
    except ValueError:
        return []


def write_record(path, keys):
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(sorted(set(keys)), f)
        f.write("\n")
    os.rename(tmp, path)


def main():
    conf = json.loads(sys.argv[1])
    os.umask(int(conf.get("umask", "0027"), 8))
    sys.dont_write_bytecode = True  # nothing of root's into the library's directory
    sys.path.insert(0, conf["lib"])
    # pylint: disable-next=import-error  # the node command's library (conf["lib"])
    from uvfleet.pythons_tools import installs

    try:
        worker, fresh = installs.who_installs(conf, "Pythons", conf["dir"])
    except installs.InstallError as exc:
        fail(str(exc))
    uv = installs.Runner(conf["uv"], worker=worker, extra_env={"UV_PYTHON_DOWNLOADS": "manual"})
    installed, pruned, kept = [], [], {}
    wanted = set()
    for request in conf["requests"]:
        key = None if fresh else key_of(installs, uv, conf, request)
        if key is None:
            installed.append(request)
            if conf["check"]:
                continue
            result = uv.run("python", "install", "--compile-bytecode", request)
            if result.returncode != 0:
                fail("uv python install %s failed" % request, result)
            key = key_of(installs, uv, conf, request)
            if key is None:
                fail("uv python install %s succeeded but no Python in %s satisfies it" % (request, conf["dir"]), result)
        kept[request] = key
        wanted.add(key)
    record = read_record(conf["record"])
    present = set() if fresh or not os.path.isdir(conf["dir"]) else set(os.listdir(conf["dir"]))
    keep = set(wanted)
    for key in record:
        if key in wanted or key not in present:
            continue
        if not conf["prune"]:
            keep.add(key)
            continue
        pruned.append(key)
        if conf["check"]:
            continue
        result = uv.run("python", "uninstall", key)
        if result.returncode != 0:
            fail("uv python uninstall %s failed" % key, result)
    keep.discard(None)
    if not conf["check"] and sorted(keep) != record:
        write_record(conf["record"], keep)
    print(json.dumps({"changed": bool(installed or pruned), "installed": installed, "pruned": pruned,
                      "kept": kept, "record": sorted(keep), "user": worker.name if worker else "root"}))


if __name__ == "__main__":
    main()
