"""The content check on a real shared cache: real members, real packages from PyPI, real uv.

The tests run in order and build on each other (one story): fill, check clean, damage,
find, check mode, repair, recover, a module rewritten together with its RECORD line (found
against root's record of the entry's first sight), check clean again.
"""
import base64
import json
import os

from tamper import rewrite_with_record
from uvfleet_story import CACHE, as_user, explain, ok, tree_state

QUARANTINE = CACHE + ".quarantine"
ARCHIVE = CACHE + "/archive-v0"
# Where the controller keeps the numbers of this run (verifiable share), for the docs;
# outside Molecule's ephemeral directory, which destroy removes.
SHARE_FILE = os.environ.get("UVFLEET_CONTENT_SHARE", "/tmp/uvfleet-content-share.json")


# bob's poison: the version string rewritten in place, same length (only the hash tells)
POISON = """
import re, sys
with open(sys.argv[1], "r+") as handle:
    text = handle.read()
    handle.seek(0)
    handle.write(re.sub(r'"[0-9.]+"', lambda m: '"' + "6" * (len(m.group()) - 2) + '"', text, count=1))
"""


def verify(host, *args):
    """uvfleet verify as root (the node command the shared role installed); (rc, report)."""
    result = host.run(" ".join(("uvfleet verify --compact",) + args))
    assert result.rc in (0, 1), explain(result)
    return result.rc, json.loads(result.stdout)


def member(host, user, command):
    return ok(as_user(host, user, "set -e; " + command))


def find_one(host, pattern):
    paths = ok(host.run("find %s -path %s ! -path '*/lib/python*'", ARCHIVE, pattern)).stdout.split()
    assert len(paths) == 1, paths
    return paths[0]


def test_members_fill_the_cache_with_real_installs(host):
    # alice: six built from its sdist by uv (a build environment with setuptools lands
    # in the cache too), idna, and pycowsay with its console script
    member(host, "alice", "uv venv -q --clear ~/v1 && uv pip install -q -p ~/v1/bin/python "
                          "--no-binary six six idna pycowsay && ~/v1/bin/pycowsay moo")
    # bob: other packages with console scripts, and a cached environment of uvx
    member(host, "bob", "uv venv -q --clear ~/v1 && uv pip install -q -p ~/v1/bin/python "
                        "packaging iniconfig cowsay && ~/v1/bin/cowsay -t moo && uvx -q pycowsay moo")
    assert ok(host.run("ls %s/sdists-v*/pypi/six", CACHE)).stdout.strip()
    # setuptools (the sdist's build backend) carries the file of uv#6648
    find_one(host, "*/distutils-precedence.pth")
    find_one(host, "*/idna/package_data.py")


def test_a_clean_cache_gives_zero_findings(host):
    rc, report = verify(host, "--fail-on-findings")
    assert rc == 0 and report["findings"] == {} and report["bad_entries"] == [], report["findings"]
    assert report["entries"] >= 8 and report["files_verified"] > 100
    # a uvx environment is among the entries (a venv in archive-v0), verified like the wheels
    assert ok(host.run("ls %s/*/pyvenv.cfg", ARCHIVE)).stdout.strip()
    # what share of the cache the check can verify at all
    files = int(ok(host.run("find %s -type f -o -type l | wc -l", CACHE)).stdout)
    share = {"cache_files": files, "archive_files": report["files"], "verified": report["files_verified"],
             "unverifiable": report["files_unverifiable"], "entries": report["entries"],
             "mb": report["bytes_hashed"] / 1e6, "duration": report["duration"]}
    with open(SHARE_FILE, "w") as handle:
        json.dump(share, handle)


def test_a_truncated_file_and_a_poisoned_module_are_found_with_exact_paths(host):
    pth = find_one(host, "*/distutils-precedence.pth")
    module = find_one(host, "*/idna/package_data.py")
    # uv#6648: a zero-length copy of the .pth (bob, a member, can write alice's files)
    member(host, "bob", "truncate -s 0 %s" % pth)
    # poisoning: bob rewrites idna's version module, same size, so only the hash tells
    member(host, "bob", "echo %s | base64 -d | python3 - %s" % (base64.b64encode(POISON.encode()).decode(), module))
    # the poison is real: a fresh install by alice gets bob's code
    member(host, "alice", "uv venv -q --clear ~/v2 && uv pip install -q -p ~/v2/bin/python idna")
    poisoned = member(host, "alice", "~/v2/bin/python -c 'import idna; print(idna.__version__)'").stdout
    assert set(poisoned.strip()) == {"6"}
    rc, report = verify(host, "--fail-on-findings")
    assert rc == 1
    assert report["findings"] == {"wrong_size": 1, "wrong_hash": 1}
    found = sorted((s["kind"], s["path"]) for s in report["samples"])
    assert found == [("wrong_hash", module), ("wrong_size", pth)]
    assert [s["current"] for s in report["samples"] if s["kind"] == "wrong_size"] == ["0"]
    assert sorted(b["entry"] for b in report["bad_entries"]) == sorted(
        [pth[len(ARCHIVE) + 1:].split("/")[0], module[len(ARCHIVE) + 1:].split("/")[0]])


def test_check_mode_and_the_module_audit_change_nothing(host, ansible_host):
    before = tree_state(host)
    rc, report = verify(host, "--check")
    assert rc == 0 and report["mode"] == "check" and len(report["would_quarantine"]) == 2
    module = ansible_host.ansible("uvfleet.uv.cache_verify", "path=%s repair=true" % CACHE, check=True, become=True)
    assert module["changed"] and len(module["would_quarantine"]) == 2
    assert module["findings"] == {"wrong_size": 1, "wrong_hash": 1}
    assert tree_state(host) == before
    assert not host.file(QUARANTINE).exists


def test_the_repair_quarantines_the_bad_entries(host):
    rc, report = verify(host, "--repair", "--fail-on-findings")
    assert rc == 0, report
    moved = report["quarantined"]
    assert len(moved) == 2 and report["remaining"] == []
    q = host.file(QUARANTINE)
    assert q.is_directory and q.user == "root" and q.mode == 0o700
    for item in moved:
        assert not host.file(ARCHIVE + "/" + item["entry"]).exists
        assert host.file(item["to"]).is_directory
        note = json.loads(host.file(os.path.dirname(item["to"]) + "/note.json").content_string)
        assert note["from"] == ARCHIVE + "/" + item["entry"]
    # members cannot reach the quarantine (it holds their files, now out of their reach)
    assert as_user(host, "alice", "ls %s" % QUARANTINE).rc != 0
    assert as_user(host, "bob", "cat %s/*/note.json" % QUARANTINE).rc != 0


def test_uv_fetches_again_and_another_member_gets_the_untampered_code(host):
    # alice (not the poisoner) installs afresh: the wheels-v*/sdists-v* pointers to the
    # quarantined entries dangle, uv downloads idna and setuptools again and rebuilds six
    member(host, "alice", "uv venv -q --clear ~/v3 && uv pip install -q -p ~/v3/bin/python "
                          "--no-binary six six idna setuptools")
    out = member(host, "alice", "~/v3/bin/python -c 'import idna, six, importlib.metadata as m; "
                                "print(idna.__version__ == m.version(\"idna\"))'").stdout
    assert out.strip() == "True"
    pth = ok(as_user(host, "alice", "find ~/v3 -name distutils-precedence.pth -size +0")).stdout.split()
    assert len(pth) == 1
    # bob's cached uvx environment was not touched and still runs
    member(host, "bob", "uvx -q pycowsay again")


RECORD_DIR = "/var/lib/uvfleet/content"


def test_a_module_rewritten_with_its_record_line_is_found_against_roots_record(host):
    module = find_one(host, "*/iniconfig/__init__.py")
    entry = module[:len(ARCHIVE) + 1 + module[len(ARCHIVE) + 1:].index("/")]
    # the check has seen this entry before (every earlier run recorded what it held): root's record, members out
    record_dir = host.file(RECORD_DIR)
    assert record_dir.is_directory and record_dir.user == "root" and record_dir.mode == 0o700
    assert as_user(host, "bob", "ls %s" % RECORD_DIR).rc != 0
    rc, report = verify(host)
    assert report["findings"] == {} and report["record"]["saved"], report["findings"]
    recorded = report["record"]["entries"]
    assert recorded["known"] >= 5 and recorded["known"] + recorded["first_seen"] == report["entries"], recorded

    # bob rewrites the module and its RECORD row, so that they match
    record = rewrite_with_record(host, "bob", entry, "iniconfig/__init__.py", "print('pwned by bob')")
    # the poison is real: alice's fresh install runs bob's code
    member(host, "alice", "uv venv -q --clear ~/v4 && uv pip install -q -p ~/v4/bin/python iniconfig")
    assert "pwned by bob" in member(host, "alice", "~/v4/bin/python -c 'import iniconfig'").stdout
    # against RECORD alone the entry is sound: the hole of issue 18
    rc, report = verify(host, "--no-record", "--fail-on-findings")
    assert rc == 0 and report["findings"] == {}, report["findings"]
    # against root's record of the entry's first sight it is not
    rc, report = verify(host, "--fail-on-findings")
    assert rc == 1 and report["findings"] == {"rewritten": 2}, report["findings"]
    assert sorted(s["path"] for s in report["samples"]) == sorted([module, record])
    assert report["remaining"] == [entry[len(ARCHIVE) + 1:]]
    # the repair moves it; alice's next install gets iniconfig's own code again
    rc, report = verify(host, "--repair", "--fail-on-findings")
    assert rc == 0 and [q["entry"] for q in report["quarantined"]] == [entry[len(ARCHIVE) + 1:]]
    member(host, "alice", "uv venv -q --clear ~/v4 && uv pip install -q -p ~/v4/bin/python iniconfig")
    assert "pwned" not in member(host, "alice", "~/v4/bin/python -c 'import iniconfig'").stdout


def test_the_recovered_cache_is_clean(host, ansible_host):
    rc, report = verify(host, "--fail-on-findings")
    assert rc == 0 and report["findings"] == {}, report["findings"]
    module = ansible_host.ansible("uvfleet.uv.cache_verify", "path=%s repair=true fail_on_findings=true" % CACHE,
                                  become=True)
    assert not module.get("failed") and not module["changed"]
