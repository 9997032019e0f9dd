#!/usr/bin/env bash
# `make demo`: converge uvfleet.uv.site on a throwaway container and show what each
# user can do with the shared uv cache. Run as root from the collection root after
# `make venv layout` (make demo does both and builds the Debian 12 image).
#
#   alice, bob   members of the group uvshared (alice has umask 077)
#   carol        not a member
#
# It ends with what `uvfleet doctor` tells alice (all ok) and carol (not a member).
# Ansible reaches the node over SSH, as a fleet is driven (tests/ssh_nodes.py: its own
# podman network uvfleet-demo, a key made for the run, pipelining, ControlPersist);
# the users' commands go over the same connection. The container and the network are
# removed at the end (keep them with UVFLEET_DEMO_KEEP=1).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
name="${UVFLEET_DEMO_NAME:-uvfleet-demo}"
image="${UVFLEET_DEMO_IMAGE:-localhost/uvfleet/debian:12}"
export PATH="$repo/.venv/bin:$PATH"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$repo/tests/podman/containers.conf}"
export ANSIBLE_COLLECTIONS_PATH="${ANSIBLE_COLLECTIONS_PATH:-$repo/build/collections}"
export ANSIBLE_PYTHON_INTERPRETER=auto_silent ANSIBLE_RETRY_FILES_ENABLED=false
export ANSIBLE_NOCOLOR=1

work="$(mktemp -d /tmp/uvfleet-demo.XXXXXX)"
network="${UVFLEET_DEMO_NETWORK:-$name}"
# The node for tests/ssh_nodes.py (up and down).
spec="$(python3 -c 'import json, sys; n, w, name, image, ca = sys.argv[1:]
print(json.dumps({"network": n, "ssh_dir": w + "/ssh", "nodes": [{"name": name, "image": image, "volumes": [ca]}]}))' \
  "$network" "$work" "$name" "$image" /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)"
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if [[ "${UVFLEET_DEMO_KEEP:-0}" != 1 ]]; then
    python3 "$repo/tests/ssh_nodes.py" down <<<"$spec" >/dev/null 2>&1 || true
    rm -rf "$work"
  fi
}
trap cleanup EXIT

command -v ansible-playbook >/dev/null || { echo "no ansible-playbook: run 'make venv layout' first" >&2; exit 2; }
[[ -e "$ANSIBLE_COLLECTIONS_PATH/ansible_collections/uvfleet/uv" ]] || { echo "run 'make layout' first" >&2; exit 2; }
podman image exists "$image" || { echo "image $image is missing: run 'make images IMAGES=12'" >&2; exit 2; }

start=$(date +%s)
echo "== starting a throwaway container $name ($image), reached over SSH"
python3 "$repo/tests/ssh_nodes.py" up <<<"$spec" > "$work/nodes.json"
address="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["nodes"][0]["address"])' < "$work/nodes.json")"
ssh_node=(ssh -n -F "$work/ssh/config" "$name")

cat > "$work/inventory.yml" <<EOF
uv_nodes:
  hosts:
    $name:
      ansible_host: $address
      ansible_user: root
      ansible_ssh_common_args: -F $work/ssh/config -o ControlPath=$work/ssh/cp-%h
      ansible_ssh_pipelining: true
  vars:
    uv_install_source: pypi
    uv_shared_group: uvshared
    uv_shared_group_members: [alice, bob]
    # HTTPS to PyPI from the container goes through the host's CA bundle.
    uv_shared_system_certs: true
EOF
cat > "$work/demo.yml" <<'EOF'
- name: Demo users (the site playbook never creates users)
  hosts: uv_nodes
  gather_facts: false
  tasks:
    - name: Create alice, bob and carol
      ansible.builtin.user:
        name: "{{ item }}"
        shell: /bin/bash
      loop: [alice, bob, carol]
    - name: Give alice a private umask (077)
      ansible.builtin.lineinfile:
        path: /home/alice/.profile
        line: umask 077
        insertbefore: BOF
- name: The site playbook
  ansible.builtin.import_playbook: uvfleet.uv.site
EOF

echo "== converging uvfleet.uv.site (log: $repo/build/demo.log)"
mkdir -p "$repo/build"
if ! ansible-playbook -i "$work/inventory.yml" "$work/demo.yml" > "$repo/build/demo.log" 2>&1; then
  tail -40 "$repo/build/demo.log"
  echo "converge failed; full log in build/demo.log" >&2
  exit 1
fi
grep -E "^$name +: ok=" "$repo/build/demo.log" | sed 's/  */ /g; s/^/   /'

as() { # as USER COMMAND -> prints "rc<TAB>last line of output" (a login shell of USER)
  local out rc=0
  out="$("${ssh_node[@]}" "runuser -l $(printf '%q' "$1") -c $(printf '%q' "$2")" 2>&1)" || rc=$?
  printf '%s\t%s\n' "$rc" "$(printf '%s\n' "$out" | grep -v '^\s*$' | tail -1 | sed 's/^ *//; s/^cause: //')"
}
unexpected=0
row() { # row USER "WHAT" COMMAND [expect-failure]
  local res rc line mark
  res="$(as "$1" "$3")"; rc="${res%%$'\t'*}"; line="${res#*$'\t'}"
  if [[ "${4:-}" == fail ]]; then
    if [[ "$rc" != 0 ]]; then mark="denied"; else mark="ALLOWED?!"; unexpected=$((unexpected + 1)); fi
  else
    if [[ "$rc" == 0 ]]; then mark="ok"; else mark="FAILED"; unexpected=$((unexpected + 1)); fi
  fi
  printf '%-6s %-48s %-8s %s\n' "$1" "$2" "$mark" "${line:0:80}"
}

echo
echo "== who can do what (group uvshared: alice, bob; carol is not a member)"
printf '%-6s %-48s %-8s %s\n' user action result "last line of output"
printf '%-6s %-48s %-8s %s\n' ---- ------ ------ -------------------
row alice "uv --version" "uv --version"
row bob   "uv --version" "uv --version"
row alice "where does uv cache?" "uv cache dir"
row bob   "where do shared tools go? (uv tool dir)" "uv tool dir"
row alice "uv pip install six (from PyPI, umask 077)" \
  "uv venv -q ~/demo && uv pip install -p ~/demo six"
row bob   "uv pip install --offline six (from the cache)" \
  "uv venv -q ~/demo && uv pip install --offline -p ~/demo six"
row bob   "import six in bob's venv" "\$HOME/demo/bin/python -c 'import six; print(\"six\", six.__version__)'"
row carol "ls /var/cache/uv" "ls /var/cache/uv" fail
row carol "uv pip install six" "uv venv -q ~/demo && uv pip install -p ~/demo six" fail

echo
echo "== the shared cache, as root sees it"
"${ssh_node[@]}" 'ls -ld /var/cache/uv; getfacl -p /var/cache/uv 2>/dev/null | grep "^default"' | sed 's/^/   /'

doctor() { # doctor USER EXPECTED-EXIT: what `uvfleet doctor` tells USER (run in their login shell)
  local rc=0
  echo
  echo "== uvfleet doctor, as $1 (what a member runs when uv fails; exit 0: uv works, 1: a problem blocks it)"
  # pipefail: rc is the doctor's exit status, not sed's
  "${ssh_node[@]}" "runuser -l $(printf '%q' "$1") -c 'uvfleet doctor'" | sed 's/^/   /' || rc=$?
  echo "   (exit $rc)"
  if [[ "$rc" != "$2" ]]; then
    echo "   expected exit $2" >&2
    unexpected=$((unexpected + 1))
  fi
}

echo
echo "done in $(( $(date +%s) - start )) s; /etc/uv/uv.toml and the uv wrapper were written by uvfleet.uv.shared"
doctor alice 0
doctor carol 1
[[ "${UVFLEET_DEMO_KEEP:-0}" == 1 ]] && echo "container $name kept (ssh -F $work/ssh/config $name)"
if (( unexpected > 0 )); then
  echo "$unexpected row(s) above did not give the expected result" >&2
  exit 1
fi
exit 0
