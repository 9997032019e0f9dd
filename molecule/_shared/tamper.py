"""What a hostile member does to a shared cache, as scripts run as that member (issue 18)."""
import base64
import shlex

from uvfleet_story import as_user, ok

# A module of an unpacked entry rewritten AND its RECORD row, so that they match: RECORD
# alone cannot tell.  argv: entry, path in the entry, text to append; prints the RECORD's path.
REWRITE_WITH_RECORD = """
import base64, hashlib, os, sys
entry, rel, text = sys.argv[1], sys.argv[2], sys.argv[3]
path = os.path.join(entry, rel)
with open(path, "ab") as handle:
    handle.write(("\\n" + text + "\\n").encode())
data = open(path, "rb").read()
digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
record = [os.path.join(d, "RECORD") for d in os.listdir(entry) if d.endswith(".dist-info")][0]
rows = open(os.path.join(entry, record)).read().splitlines()
rows = ["%s,sha256=%s,%d" % (rel, digest, len(data)) if r.split(",")[0] == rel else r for r in rows]
open(os.path.join(entry, record), "w").write("\\n".join(rows) + "\\n")
print(os.path.join(entry, record))
"""


def rewrite_with_record(host, user, entry, rel, text):
    """``user`` appends ``text`` (a line of Python) to ``entry/rel`` and rewrites its RECORD row; the RECORD's path."""
    script = base64.b64encode(REWRITE_WITH_RECORD.encode()).decode()
    command = "echo %s | base64 -d | python3 - %s" % (script, " ".join(shlex.quote(a) for a in (entry, rel, text)))
    return ok(as_user(host, user, command)).stdout.strip()
