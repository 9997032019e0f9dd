# uvfleet.uv.shared: the tools the play installs into the shared tool dir.
#
#   shared-tools.py JSON
#
# JSON: {"uv": "/usr/local/bin/uv", "tool_dir": "/opt/uv/tools", "check": false, "umask": "0027",
#        "managed": true, "python_dir": "/opt/uv/python", "python_managed": true, "fresh": false,
#        "worker": "_uvfleet", "group": "uvshared", "lib": "/usr/local/lib/uvfleet/lib",
#        "tools": [{"name": "ruff", "spec": "ruff==0.6.9", "python": "", "with": [], "state": "present"}]}
#
# Run by the role with the node's python3 (ansible.builtin.script), as root, through the
# uv wrapper (UV_TOOL_DIR, UV_TOOL_BIN_DIR, UV_PYTHON_*), with the node command's library
# ("lib", uvfleet/pythons_tools/installs.py).
#
# - managed: the tool dir holds only root's files (verified before, see
#   managed-retire.py). Each tool gets an explicit interpreter (--python PATH): found by
#   root's uv among the managed Pythons (a dir verified like the tool dir) or, where
#   there is none (or the Python dir is collaborative), among the system's (a PATH of
#   system dirs only); it must be root's and changeable by root only (installs.untrusted)
#   before uv is given it. A tool venv whose interpreter is not (any more) is uninstalled
#   first (uv tool uninstall does not run it) and installed anew.
# - collaborative: every uv command runs as the worker account, never as root: members
#   can change the tools' venvs, interpreters and receipts there (a receipt's
#   install-path is what `uv tool uninstall` deletes). A failed uninstall whose tool dir
#   is gone is reported, not failed (a member's entry in the receipt that the worker
#   cannot delete); everything else that fails, fails.
#
# Each present tool is first installed with --offline: uv answers "already installed"
# for an unchanged entry without touching the network, and installs a changed spec from
# the cache when it can; only what the cache lacks is fetched.
#
# The executables of each tool come from its receipt, which members can write under
# collaborative: read fd-relative without following a symlink, and each name checked
# (installs.refuse): a refused name gets no wrapper, and is reported (refused), never
# fails the play. Prints one JSON object: changed, installed, removed, executables
# (tool -> [names]), refused ([{tool, name, why}], names escaped), interpreters, warnings.
import json
import os
import sys


def fail(msg, result=None):
    if result is not None:
        msg += " (uv exit %s): %s" % (result.returncode, (result.stderr or result.stdout).strip()[-2000:])
    print(json.dumps({"failed": True, "msg": msg}))
    sys.exit(1)


class Tools(object):

    def __init__(self, conf, installs, printable, uv):
        self.conf = conf
        self.installs = installs
        self.printable = printable  # escape.printable: what a member wrote, as one line of printable text
        self.uv = uv
        self.system = installs.Runner(conf["uv"])

    def venv(self, name, *parts):
        return os.path.join(self.conf["tool_dir"], name, *parts)

    def find_python(self, request):
        """The interpreter a managed tool runs on: a managed Python, else the system's; checked before use."""
        args = ["python", "find", "--no-python-downloads", "--no-project"] + ([request] if request else [])
        runners = ([self.uv] if self.conf["python_managed"] else []) + [self.system]
        for runner in runners:
            found = runner.run(*(args[:2] + (["--managed-python"] if runner is self.uv else ["--no-managed-python"]) + args[2:]))
            path = found.stdout.strip()
            if found.returncode == 0 and path.startswith("/"):
                break
        else:
            fail("no Python for the managed tools%s: neither uv_shared_pythons (with uv_shared_python_policy: "
                 "managed) nor the system provides one" % (" (request %s)" % request if request else ""))
        bad = self.installs.untrusted(path)
        if bad is not None:
            fail("the Python %s for the managed tools can be changed by someone other than root: %s. Give the tools "
                 "a root-owned interpreter (a Python from uv_shared_pythons with uv_shared_python_policy: managed, "
                 "or the system Python)" % (path, bad))
        return path

    def install(self, tool, python):
        """Install or update one tool; True when something changed."""
        argv = ["tool", "install", "--compile-bytecode"]
        if python:
            argv += ["--python", python]
        for extra in tool.get("with") or []:
            argv += ["--with", extra]
        argv.append(tool.get("spec") or tool["name"])
        offline = argv[:2] + ["--offline"] + argv[2:]
        first = self.uv.run(*offline)
        if first.returncode == 0 and "is already installed" in first.stderr:
            return False
        if first.returncode != 0:
            online = self.uv.run(*argv)
            if online.returncode != 0:
                fail("uv tool install %s failed" % " ".join(argv[2:]), online)
        # what the next run asks: uv must find it installed now (and has looked at the new venv's
        # interpreter once, so that the next run changes nothing, not even uv's cache)
        again = self.uv.run(*offline)
        if again.returncode != 0 or "is already installed" not in again.stderr:
            fail("uv tool install %s succeeded, but uv does not find it installed after it" % " ".join(argv[2:]), again)
        return True

    def uninstall(self, name, warnings):
        result = self.uv.run("tool", "uninstall", name)
        if result.returncode == 0:
            return
        if self.conf["managed"] or os.path.lexists(self.venv(name)):
            fail("uv tool uninstall %s failed" % name, result)
        warnings.append("uv tool uninstall %s (as %s) removed the tool but not everything its receipt names: %s"
                        % (name, self.uv.worker.name, self.printable((result.stderr or result.stdout).strip()[-500:])))

    def present(self, tool, warnings):
        """Install one present tool (managed: on a checked interpreter); True when something changed."""
        name = tool["name"]
        if not self.conf["managed"]:
            return self.install(tool, tool.get("python"))
        python = self.find_python(tool.get("python"))
        current = self.venv(name, "bin", "python")
        if os.path.lexists(current) and self.installs.untrusted(current) is not None:
            warnings.append("the venv of the managed tool %s ran on %s, not a root-only interpreter: installed anew"
                            % (name, os.path.realpath(current)))
            self.uninstall(name, warnings)
        return self.install(tool, python)


def main():
    conf = json.loads(sys.argv[1])
    os.umask(int(conf.get("umask", "0027"), 8))
    sys.dont_write_bytecode = True  # nothing of root's into the library's directory
    sys.path.insert(0, conf["lib"])
    # pylint: disable=import-error  # the node command's library (conf["lib"])
    from uvfleet.escape import printable
    from uvfleet.pythons_tools import installs
    # pylint: enable=import-error

    try:
        worker, fresh = installs.who_installs(conf, "tools", conf["tool_dir"])
    except installs.InstallError as exc:
        fail(str(exc))
    tools = Tools(conf, installs, printable, installs.Runner(conf["uv"], worker=worker))
    installed, removed, executables, refused, interpreters, warnings = [], [], {}, [], {}, []
    claimed = {}
    for tool in conf["tools"]:
        name = tool["name"]
        text = None if fresh else installs.read_receipt(conf["tool_dir"], name)
        if tool.get("state", "present") == "absent":
            if not fresh and (text is not None or os.path.lexists(tools.venv(name))):
                removed.append(name)
                if not conf["check"]:
                    tools.uninstall(name, warnings)
            continue
        if conf["check"]:
            spec = tool.get("spec") or ""
            specifier = spec[len(name):].strip() if spec.lower().startswith(name.lower()) else spec
            if text is None or (specifier and specifier not in text):
                installed.append(name)
        elif tools.present(tool, warnings):
            installed.append(name)
        if not conf["check"]:
            text = installs.read_receipt(conf["tool_dir"], name)
        names = []
        for exe in sorted(set(installs.entrypoints(text))):
            why = installs.refuse(conf["tool_dir"], name, exe)
            if why is None and exe in claimed:
                why = "also an executable of the tool %s, which has the wrapper" % claimed[exe]
            if why is not None:
                refused.append({"tool": name, "name": printable(exe), "why": why})
                continue
            claimed[exe] = name
            names.append(exe)
        executables[name] = names
        python = tools.venv(name, "bin", "python")
        if os.path.lexists(python):
            interpreters[name] = os.path.realpath(python)
            bad = installs.untrusted(python) if conf["managed"] and not conf["check"] else None
            if bad is not None:
                fail("the venv of the managed tool %s runs on %s, which can be changed by someone other than root: %s"
                     % (name, interpreters[name], bad))
    print(json.dumps({"changed": bool(installed or removed), "installed": installed, "removed": removed,
                      "executables": executables, "refused": refused, "interpreters": interpreters,
                      "warnings": warnings, "user": worker.name if worker else "root"}))


if __name__ == "__main__":
    main()
