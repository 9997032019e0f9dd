# uvfleet.uv.shared: the Pythons the play installs into the shared Python install dir.
#
#   shared-pythons.py JSON
#
# JSON: {"uv": "/usr/local/bin/uv", "dir": "/opt/uv/python", "record": FILE,
#        "requests": ["3.12", ...], "prune": false, "check": false, "umask": "0027"}
#
# Run by the role with the node's python3 (ansible.builtin.script), as root, through the uv wrapper (which sets UV_PYTHON_INSTALL_DIR and
# UV_PYTHON_BIN_DIR). A request that an installed Python already satisfies is not
# installed again, and nothing is downloaded for it (uv python find
# --no-python-downloads). The record FILE lists the installation keys root
# installed; with prune, a key the requests no longer need is uninstalled. A key a
# member installed is never pruned. Prints one JSON object: changed, installed,
# pruned, kept (request -> key).
import json
import os
import subprocess
import sys

ENV = dict(os.environ, UV_PYTHON_DOWNLOADS="manual", NO_COLOR="1")


def uv(conf, *args):
    return subprocess.run([conf["uv"]] + list(args), env=ENV, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, check=False)


def fail(msg, result=None):
    if result is not None:
        msg += " (uv exit %s): %s" % (result.returncode, (result.stderr or result.stdout).strip()[-2000:])
    print(json.dumps({"failed": True, "msg": msg}))
    sys.exit(1)


def key_of(conf, request):
    """The installation key in conf["dir"] that satisfies request, or None."""
    found = uv(conf, "python", "find", "--managed-python", "--no-python-downloads", "--no-project", request)
    if found.returncode != 0:
        return None
    real = os.path.realpath(found.stdout.strip())
    top = os.path.realpath(conf["dir"]) + os.sep
    if not real.startswith(top):
        return None
    return real[len(top):].split(os.sep, 1)[0]


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
    installed, pruned, kept = [], [], {}
    wanted = set()
    for request in conf["requests"]:
        key = key_of(conf, request)
        if key is None:
            installed.append(request)
            if conf["check"]:
                continue
            result = uv(conf, "python", "install", "--compile-bytecode", request)
            if result.returncode != 0:
                fail("uv python install %s failed" % request, result)
            key = key_of(conf, request)
            if key is None:
                fail("uv python install %s succeeded but no Python in %s satisfies it" % (request, conf["dir"]), result)
        kept[request] = key
        wanted.add(key)
    record = read_record(conf["record"])
    present = set(os.listdir(conf["dir"])) if os.path.isdir(conf["dir"]) else set()
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
        result = uv(conf, "python", "uninstall", key)
        if result.returncode != 0:
            fail("uv python uninstall %s failed" % key, result)
    if not conf["check"] and sorted(keep) != record:
        write_record(conf["record"], keep)
    print(json.dumps({"changed": bool(installed or pruned), "installed": installed, "pruned": pruned,
                      "kept": kept, "record": sorted(keep)}))


if __name__ == "__main__":
    main()
