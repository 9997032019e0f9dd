#!/usr/bin/env bash
# alice, a hostile group member, after last week's play (the Python and tool dirs are
# collaborative): what the attacks of issue 18 plant before today's play.
#
#   hostile-member.sh NATIVE SWITCH
#
# NATIVE: the image's own Python (3.11, 3.13). SWITCH yes: the node turns managed today,
# so alice also makes root's NATIVE Python and its `wheel` tool installs of her own (root's
# request for that version, and for wheel==0.44.0, would be answered by hers). On both:
#
# - a sitecustomize.py in every shared Python: every process of that interpreter runs
#   it (uv's queries too). As root it leaves /root/ALICE-RAN-AS-ROOT (only root can
#   write /root); as anyone else /tmp/alice-marks/ran-as-<uid>. The interpreters get a
#   fresh mtime, so that uv asks them again instead of using what it cached about them;
# - entries in the receipts (uv-receipt.toml) of pyflakes (and of her wheel): names
#   `ls`, `uv`, `../x`, one with a newline, `python3`, `ghost` (no such file), with a
#   script in the venv's bin for the plain ones;
# - an entry in pyjokes' receipt whose install-path is /etc/alice-victim, a file of
#   root's: `uv tool uninstall pyjokes` deletes what the entries name.
#
# What alice made is recorded in /root/alice-made (path, inode, owner) for the tests.
set -euo pipefail
native="$1"
switch="$2"
as_alice() { runuser -l alice -c "set -e; $1"; }

install -d -m 1777 /tmp/alice-marks
echo "a file of root's" > /etc/alice-victim
chmod 0644 /etc/alice-victim
cat > /tmp/alice-sitecustomize.py <<'EOF'
# alice's sitecustomize.py: runs in every process of this interpreter
import os
try:
    if os.geteuid() == 0:
        with open("/root/ALICE-RAN-AS-ROOT", "a") as mark:
            mark.write("pid %d\n" % os.getpid())
    else:
        with open("/tmp/alice-marks/ran-as-%d" % os.geteuid(), "a") as mark:
            mark.write("pid %d\n" % os.getpid())
except OSError:
    pass
EOF
chmod 0644 /tmp/alice-sitecustomize.py
cat > /tmp/alice-receipt.py <<'EOF'
# add entries (name|install-path, TOML text as written) to the receipt of a tool
import sys
path, tool = sys.argv[1], sys.argv[2]
rows = "".join('    { name = "%s", install-path = "%s", from = "%s" },\n' % (tuple(e.split("|", 1)) + (tool,))
               for e in sys.argv[3:])
with open(path) as f:
    text = f.read()
assert "entrypoints = [\n" in text, text
with open(path, "w") as f:
    f.write(text.replace("entrypoints = [\n", "entrypoints = [\n" + rows, 1))
EOF
chmod 0644 /tmp/alice-receipt.py
# shellcheck disable=SC2016  # $(id -u) is for the script she writes, not for this one
printf '#!/bin/sh\necho "alice ran as $(id -u)" >> /tmp/alice-marks/wrapper\nexec /bin/true\n' > /tmp/alice-bin.sh
chmod 0644 /tmp/alice-bin.sh

if [ "$switch" = yes ]; then
  # her install answers root's request for this version; her venv is "wheel 0.44.0"
  as_alice "uv python uninstall -q $native && uv python install -q $native"
  as_alice "uv tool install -q --force --python $native wheel==0.44.0"
fi

for py in /opt/uv/python/cpython-*.*.*-linux-*; do
  if [ ! -d "$py" ] || [ -L "$py" ]; then continue; fi
  mm=$(basename "$py" | cut -d- -f2 | cut -d. -f1,2)
  as_alice "cp /tmp/alice-sitecustomize.py $py/lib/python$mm/sitecustomize.py && touch $py/bin/python$mm"
  stat -c '%n %i %U' "$py" "$py/lib/python$mm/sitecustomize.py" >> /root/alice-made
done

bad_names() {  # TOOL: her entries in the tool's receipt, and scripts for the plain names
  local tool="$1" dir="/opt/uv/tools/$1"
  for name in ls uv; do
    as_alice "cp /tmp/alice-bin.sh $dir/bin/$name && chmod 0770 $dir/bin/$name"
  done
  as_alice "python3 /tmp/alice-receipt.py $dir/uv-receipt.toml $tool 'ls|/opt/uv/bin/alice-ls' 'uv|/opt/uv/bin/alice-uv' \
    '../x|/opt/uv/bin/alice-x' 'a\\nb|/opt/uv/bin/alice-nl' 'python3|/opt/uv/bin/alice-py' 'ghost|/opt/uv/bin/alice-ghost' \
    && touch /opt/uv/bin/alice-ls /opt/uv/bin/alice-uv /opt/uv/bin/alice-x /opt/uv/bin/alice-nl /opt/uv/bin/alice-py /opt/uv/bin/alice-ghost"
}
bad_names pyflakes
if [ "$switch" = yes ]; then
  bad_names wheel
  stat -c '%n %i %U' /opt/uv/tools/wheel >> /root/alice-made
fi
as_alice "python3 /tmp/alice-receipt.py /opt/uv/tools/pyjokes/uv-receipt.toml pyjokes 'pyjoke-gone|/etc/alice-victim'"
rm -f /tmp/alice-sitecustomize.py /tmp/alice-receipt.py /tmp/alice-bin.sh
