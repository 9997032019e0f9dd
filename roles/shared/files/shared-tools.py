# uvfleet.uv.shared: the tools the play installs into the shared tool dir.
#
#   shared-tools.py JSON
#
# JSON: {"uv": "/usr/local/bin/uv", "tool_dir": "/opt/uv/tools", "check": false,
#        "umask": "0027", "managed": true,
#        "tools": [{"name": "ruff", "spec": "ruff==0.6.9", "python": "", "with": [], "state": "present"}]}
#
# Run by the role with the node's python3 (ansible.builtin.script), as root, through the uv wrapper (UV_TOOL_DIR, UV_TOOL_BIN_DIR, UV_PYTHON_*).
# Each present tool is first installed with --offline: uv answers "already
# installed" for an unchanged entry without touching the network, and installs a
# changed spec from the cache when it can; only what the cache lacks is fetched.
# With managed, every tool's venv must run on a root-owned interpreter that only
# root can change. Prints one JSON object: changed, installed, removed,
# executables (tool -> [names]), interpreters (tool -> path).
import json
import os
import re
import stat
import subprocess
import sys

ENV = dict(os.environ, NO_COLOR="1")
ENTRYPOINT = re.compile(r'\{\s*name\s*=\s*"([^"]+)"\s*,\s*install-path\s*=')


def uv(conf, *args):
    return subprocess.run([conf["uv"]] + list(args), env=ENV, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, check=False)


def fail(msg, result=None):
    if result is not None:
        msg += " (uv exit %s): %s" % (result.returncode, (result.stderr or result.stdout).strip()[-2000:])
    print(json.dumps({"failed": True, "msg": msg}))
    sys.exit(1)


def receipt(conf, name):
    try:
        with open(os.path.join(conf["tool_dir"], name, "uv-receipt.toml")) as f:
            return f.read()
    except OSError:
        return None


def install(conf, tool):
    """Install or update one tool; True when something changed."""
    argv = ["tool", "install", "--compile-bytecode"]
    if tool.get("python"):
        argv += ["--python", tool["python"]]
    for extra in tool.get("with") or []:
        argv += ["--with", extra]
    argv.append(tool.get("spec") or tool["name"])
    offline = uv(conf, *(argv[:2] + ["--offline"] + argv[2:]))
    if offline.returncode == 0:
        return "is already installed" not in offline.stderr
    online = uv(conf, *argv)
    if online.returncode != 0:
        fail("uv tool install %s failed" % " ".join(argv[2:]), online)
    return True


def trusted_interpreter(path):
    """None when path and every directory above it belong to root and only root can
    change them; otherwise the first entry that someone else could change."""
    real = os.path.realpath(path)
    entry = real
    while True:
        st = os.lstat(entry)
        writable = st.st_mode & 0o022 and not (stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX and entry != real)
        if st.st_uid != 0 or writable:
            return entry
        if entry == "/":
            return None
        entry = os.path.dirname(entry)


def main():
    conf = json.loads(sys.argv[1])
    os.umask(int(conf.get("umask", "0027"), 8))
    installed, removed, executables, interpreters = [], [], {}, {}
    for tool in conf["tools"]:
        name = tool["name"]
        text = receipt(conf, name)
        if tool.get("state", "present") == "absent":
            if text is not None or os.path.lexists(os.path.join(conf["tool_dir"], name)):
                removed.append(name)
                if not conf["check"]:
                    result = uv(conf, "tool", "uninstall", name)
                    if result.returncode != 0:
                        fail("uv tool uninstall %s failed" % name, result)
            continue
        if conf["check"]:
            spec = tool.get("spec") or ""
            specifier = spec[len(name):].strip() if spec.lower().startswith(name.lower()) else spec
            if text is None or (specifier and specifier not in text):
                installed.append(name)
        elif install(conf, tool):
            installed.append(name)
        text = receipt(conf, name) or ""
        executables[name] = sorted(set(ENTRYPOINT.findall(text)))
        python = os.path.join(conf["tool_dir"], name, "bin", "python")
        if os.path.lexists(python):
            interpreters[name] = os.path.realpath(python)
            bad = trusted_interpreter(python) if conf["managed"] else None
            if bad is not None:
                fail("the venv of the managed tool %s runs on %s, but %s can be changed by someone "
                     "other than root: give the tool a root-owned interpreter (a Python from "
                     "uv_shared_pythons with uv_shared_python_policy: managed, or the system Python)"
                     % (name, interpreters[name], bad))
    print(json.dumps({"changed": bool(installed or removed), "installed": installed, "removed": removed,
                      "executables": executables, "interpreters": interpreters}))


if __name__ == "__main__":
    main()
