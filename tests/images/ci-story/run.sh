#!/usr/bin/env bash
# The CI image of docs/images.md, built and used (uv#8032): `make images-ci`.
#
# 1. The Containerfile and the play are taken out of docs/images.md (extract.py), the
#    collection tarball is built from this checkout, and `podman build` makes the image
#    FROM the Debian 12 test image, with a Python mirror made from that image's own
#    interpreter (no python-build-standalone here, DESIGN.md section 3).
# 2. In containers of it, umask 077, real uv: the named CI user and a bare UID:GID each
#    reinstall root's Python, install a tool, upgrade root's tool, install from the cache
#    offline; `uvfleet doctor` is content; root's audit is clean afterwards.
# 3. A second CI user whose primary group is not the shared group, started as bare
#    UID:GID: uv fails and the doctor says why; with --group-add it works.
# 4. An outsider uid gets nothing.
# 5. Without the seal step the CI user cannot reinstall root's Python; with something
#    the repair will not fix, the seal step fails the build.
# Everything it makes (images, containers, scratch dir) is removed at the end.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
BASE_IMAGE=${UVFLEET_CI_BASE:-localhost/uvfleet/debian:12}
TAG=localhost/uvfleet-ci-story
CA=/etc/ssl/certs/ca-certificates.crt
WORK=$(mktemp -d /tmp/uvfleet-ci-story.XXXXXX)
CONTAINERS=()

cleanup() {
  local c
  for c in "${CONTAINERS[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
  # UVFLEET_CI_KEEP=1 keeps the images (and their layer cache) for the next run.
  [ -n "${UVFLEET_CI_KEEP:-}" ] || for t in main unsealed noseal sealed extras badseal; do podman rmi "$TAG:$t" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n=== %s\n' "$*"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

# The host's CA bundle: HTTPS to PyPI from containers goes through it (DESIGN.md section 3).
MOUNTS=(-v "$WORK/pymirror:/srv/pymirror:ro" -v "$CA:$CA:ro")

step "the Containerfile and the play from docs/images.md"
python3 "$HERE/extract.py" "$REPO/docs/images.md" "$WORK/ctx"
pin=$(sed -n 's/^ansible-core==//p' "$REPO/requirements-dev.txt")
grep -qx "ARG ANSIBLE_CORE=ansible-core==$pin" "$WORK/ctx/Containerfile" \
  || fail "docs/images.md pins another ansible-core than requirements-dev.txt ($pin)"
seal=$(grep -n '^RUN uvfleet repair' "$WORK/ctx/Containerfile" | cut -d: -f1)
[ -n "$seal" ] || fail "docs/images.md has no seal step (RUN uvfleet repair ...)"

step "the collection tarball from this checkout"
(cd "$REPO" && ansible-galaxy collection build --force --output-path "$WORK/ctx" >/dev/null)
ls "$WORK"/ctx/uvfleet-uv-*.tar.gz

step "a Python mirror from the base image's own interpreter"
mkdir -p "$WORK/pymirror"
podman run --rm -v "$WORK/pymirror:/srv/pymirror" \
  -v "$REPO/molecule/_shared/files/make-python-mirror.sh:/make-python-mirror.sh:ro" \
  "$BASE_IMAGE" sh /make-python-mirror.sh /srv/pymirror

step "podman build of the documented Containerfile"
start=$(date +%s)
podman build --build-arg "BASE=$BASE_IMAGE" --build-arg PYTHON_DOWNLOADS_JSON_URL=/srv/pymirror/downloads.json \
  "${MOUNTS[@]}" -t "$TAG:main" "$WORK/ctx" > "$WORK/build.log" 2>&1 \
  || { tail -60 "$WORK/build.log"; fail "the documented Containerfile does not build"; }
echo "image built in $(( $(date +%s) - start )) s"
grep -A3 '"findings"' "$WORK/build.log" | head -4 || true

# What the role decided by itself (uv_shared_target: auto, the play does not set it).
config=$(podman run --rm --user 0 "$TAG:main" cat /etc/uvfleet/config.json)
python3 - "$config" <<'EOF' || fail "the role did not recognise the image build"
import json, sys
c = json.loads(sys.argv[1])
assert c['target'] == 'image' and c['acl'] == 'off' and c['fallback'] is True, c
EOF
podman run --rm --user 0 "$TAG:main" sh -c \
  'grep -qx "umask 0007" /usr/local/bin/uv && ! ls /etc/systemd/system/uvfleet-* /etc/cron.d/uvfleet-* 2>/dev/null' \
  || fail "the wrapper has no umask, or a job was scheduled in the image"

# The CI job, as in uv#8032: root's Python and tool from the build, then the CI user's own
# work on them, with a private umask (the wrapper's 0007 must win). It runs in the container.
# shellcheck disable=SC2016
STORY='set -eu
umask 077
echo "groups of this process: $(grep ^Groups: /proc/self/status | cut -f2)"
python3.11 -c "import sys; assert sys.version_info[:2] == (3, 11)"
black --version | grep -q "24.10.0"
uv python install --reinstall 3.11
python3.11 -c "import json, sqlite3; print(\"python ok\")"
uv tool install pyflakes
pyflakes --version
uv tool install "black==25.1.0"
black --version | grep -q "25.1.0"
uv venv -q "$HOME/venv" --python 3.11
uv pip install -q --offline -p "$HOME/venv" "black==24.10.0"
"$HOME/venv/bin/black" --version | grep -q "24.10.0"
uvfleet doctor
echo STORY-DONE'

ci_story() {  # ci_story USER[:GROUP] [podman run options...]
  local who=$1; shift
  local cid
  cid=$(podman run -d "${MOUNTS[@]}" --user "$who" "$@" "$TAG:main" sleep 600)
  CONTAINERS+=("$cid")
  podman exec "$cid" bash -c "$STORY" > "$WORK/story.log" 2>&1 \
    || { cat "$WORK/story.log"; fail "the CI story as --user $who"; }
  grep -E '^(groups|python ok|uv will)' "$WORK/story.log"
  podman exec --user 0 "$cid" uvfleet audit --fail-on-findings > "$WORK/audit.json" \
    || { cat "$WORK/audit.json"; fail "after the CI story as $who the shared dirs are not group-usable"; }
  podman rm -f -t 0 "$cid" >/dev/null
}

step "the CI user by name (--user ci), umask 077"
ci_story ci
step "the CI user as a bare uid:gid (--user 1000:1000), umask 077"
ci_story 1000:1000

step "a second CI user (uid 1001, own primary group, member of ci) started as a bare uid:gid"
printf 'FROM %s\nUSER root\nRUN useradd --uid 1001 --user-group --groups ci --create-home jenkins\nUSER jenkins\n' \
  "$TAG:main" > "$WORK/Containerfile.extras"
podman build -q --layers=false -f "$WORK/Containerfile.extras" -t "$TAG:extras" "$WORK" >/dev/null
if podman run --rm "${MOUNTS[@]}" --user 1001:1001 "$TAG:extras" bash -c 'umask 077; uv tool install pyflakes' \
     > "$WORK/denied.log" 2>&1; then
  fail "uid 1001 without its supplementary group could install into the shared tool dir"
fi
grep -q 'Permission denied' "$WORK/denied.log" || { cat "$WORK/denied.log"; fail "not a permission error"; }
set +e
podman run --rm --user 1001:1001 "$TAG:extras" uvfleet doctor > "$WORK/doctor.txt" 2>&1
code=$?
set -e
head -8 "$WORK/doctor.txt"
if [ "$code" != 1 ] || ! grep -q 'this process has no supplementary groups' "$WORK/doctor.txt" \
   || ! grep -q -- '--group-add' "$WORK/doctor.txt"; then
  fail "the doctor did not name the missing supplementary group"
fi
podman run --rm "${MOUNTS[@]}" --user 1001:1001 --group-add 1000 "$TAG:extras" bash -c \
  'set -e; umask 077; uv python install --reinstall 3.11; uv tool install pyflakes; uvfleet doctor >/dev/null; echo ok' \
  | tail -1 | grep -qx ok || fail "uid 1001 with --group-add 1000"
podman run --rm "${MOUNTS[@]}" --user jenkins "$TAG:extras" bash -c \
  'set -e; umask 077; uv venv -q "$HOME/v" && uv pip install -q --offline -p "$HOME/v" black==24.10.0 && echo ok' \
  | tail -1 | grep -qx ok || fail "--user jenkins (named: its groups from the image)"
echo "bare 1001:1001 denied and told --group-add; with --group-add 1000 and as --user jenkins it works"

step "an outsider uid (4242) gets nothing"
podman run --rm "${MOUNTS[@]}" --user 4242:4242 "$TAG:main" bash -c '
  for probe in "ls /var/cache/uv" "ls /opt/uv/python" "ls /opt/uv/tools" "cat /var/cache/uv/CACHEDIR.TAG" \
               "/opt/uv/bin/black --version" "/opt/uv/bin/python3.11 -c pass" \
               "uv pip install --offline --system --dry-run black"; do
    if out=$(cd /tmp && HOME=/tmp $probe 2>&1); then echo "OUTSIDER GOT: $probe"; exit 1; fi
    case "$out" in *"ermission denied"*) echo "denied: $probe" ;; *) echo "NOT a permission error: $probe: $out"; exit 1 ;; esac
  done' || fail "the outsider reached the shared dirs"

# A root step that bypasses the wrapper (a uv called by its path, as `COPY --from=ghcr.io/astral-sh/uv
# /uv /bin/` and `/bin/uv ...` would): the RUN step's umask 022 makes root's tool 2755/0644, which the
# CI user cannot replace. The seal step is what gives it to the group.
SLIP='RUN UV_TOOL_DIR=/opt/uv/tools UV_TOOL_BIN_DIR=/opt/uv/bin /usr/local/lib/uvfleet/bin/uv tool install pyflakes'
variant() {  # variant TAG SLIP KEEP_SEAL: the page's Containerfile, SLIP (a line or "") before the seal step
  local tag=$1 slip=$2 keep=$3
  awk -v n="$seal" -v slip="$slip" -v keep="$keep" \
    'NR == n { if (slip != "") print slip; if (keep == "yes") print; next } { print }' \
    "$WORK/ctx/Containerfile" > "$WORK/ctx/Containerfile.$tag"
  podman build --build-arg "BASE=$BASE_IMAGE" --build-arg PYTHON_DOWNLOADS_JSON_URL=/srv/pymirror/downloads.json \
    "${MOUNTS[@]}" -f "$WORK/ctx/Containerfile.$tag" -t "$TAG:$tag" "$WORK/ctx" > "$WORK/$tag.log" 2>&1 \
    || { tail -30 "$WORK/$tag.log"; fail "the Containerfile variant $tag does not build"; }
}
UPGRADE='umask 077; uv tool install --reinstall pyflakes && pyflakes --version'

step "root's own uv steps through the wrapper need no seal: without it, root's audit is already clean"
variant unsealed "" no
podman run --rm --user 0 "$TAG:unsealed" uvfleet audit --fail-on-findings > "$WORK/unsealed.json" \
  || { cat "$WORK/unsealed.json"; fail "root's uv steps left entries closed to the group (the wrapper's umask)"; }
echo "clean before the seal"

step "a root step that bypasses the wrapper, without the seal step: the CI user cannot replace root's tool"
variant noseal "$SLIP" no
if podman run --rm "${MOUNTS[@]}" --user ci "$TAG:noseal" bash -c "$UPGRADE" > "$WORK/noseal-run.log" 2>&1; then
  fail "the CI user replaced root's unsealed tool: the test shows nothing"
fi
grep -m1 'Permission denied' "$WORK/noseal-run.log" || { cat "$WORK/noseal-run.log"; fail "not a permission error"; }

step "the same step with the seal step after it: the CI user replaces root's tool"
variant sealed "$SLIP" yes
podman run --rm "${MOUNTS[@]}" --user ci "$TAG:sealed" bash -c "$UPGRADE" > "$WORK/sealed-run.log" 2>&1 \
  || { cat "$WORK/sealed-run.log"; fail "the seal step did not give root's tool to the group"; }
tail -1 "$WORK/sealed-run.log"

step "a root step that leaves what the repair will not fix: the seal step fails the build"
{ printf 'FROM %s\nUSER root\nRUN ln -s /etc/shadow /var/cache/uv/planted\n' "$TAG:noseal"
  sed -n "${seal}p" "$WORK/ctx/Containerfile"; } > "$WORK/Containerfile.badseal"
if podman build --layers=false -f "$WORK/Containerfile.badseal" -t "$TAG:badseal" "$WORK" > "$WORK/badseal.log" 2>&1; then
  fail "the seal step let a symlink out of the cache into the image"
fi
grep -q 'symlink_outside' "$WORK/badseal.log" || { tail -20 "$WORK/badseal.log"; fail "the build failed for another reason"; }
echo "the build failed at the seal step: symlink_outside"

echo
echo "ci-story: all passed"
