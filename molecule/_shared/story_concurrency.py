"""Several installs of overlapping package sets by alice and bob at the same time, on
a cold cache: zero errors, every venv imports its packages."""
from uvfleet_story import explain, imports, ok, run_concurrently, uv

JOBS = [
    ("alice", "c1", ["six", "idna", "attrs"]),
    ("alice", "c2", ["idna", "packaging", "iniconfig"]),
    ("alice", "c3", ["attrs", "six", "typing-extensions"]),
    ("bob", "c1", ["packaging", "six", "idna"]),
    ("bob", "c2", ["iniconfig", "attrs", "typing-extensions"]),
    ("bob", "c3", ["idna", "six", "packaging", "attrs"]),
]
MODULE = {"typing-extensions": "typing_extensions"}


def test_concurrent_installs_on_a_cold_cache_all_succeed(host):
    cleaned = ok(uv(host, "alice", "cache clean"))
    assert "ermission denied" not in cleaned.stderr, explain(cleaned)
    rcs, logs = run_concurrently(host, JOBS)
    assert len(rcs) == len(JOBS)
    assert all(rc == 0 for rc in rcs.values()), "%s\n%s" % (rcs, logs)
    for user, venv, packages in JOBS:
        imports(host, user, venv, [MODULE.get(p, p) for p in packages])
