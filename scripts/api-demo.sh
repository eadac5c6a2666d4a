#!/usr/bin/env bash
# The API-only demo (no lab, no root needed beyond setup): start `bootstack serve` on a free port in a
# temporary state directory, drive it with the real openstack CLI (token, catalog, an image
# round trip), print every command before running it, then stop the server.
set -euo pipefail
cd "$(dirname "$0")/.."
state=$(mktemp -d "${TMPDIR:-/tmp}/bootstack-demo.XXXXXX")
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$state"
}
trap cleanup EXIT

echo "+ bootstack serve --state-dir $state --port 0"
BOOTSTACK_LOG_LEVEL=warn ./bin/bootstack.js serve --state-dir "$state" --port 0 >"$state/serve.out" 2>"$state/serve.log" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q 'serving on' "$state/serve.out" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { echo "bootstack serve failed:"; cat "$state/serve.log"; exit 1; }
  sleep 0.1
done
url=$(sed -n 's/.*serving on //p' "$state/serve.out")
[ -n "$url" ] || { echo "bootstack serve did not start in 10 s"; cat "$state/serve.log"; exit 1; }
echo "bootstack is serving on $url (clouds.yaml in $state)"

# Only the cloud that bootstack wrote: nothing from the caller's OS_* environment.
for v in $(env | sed -n 's/^\(OS_[A-Za-z_]*\)=.*/\1/p'); do unset "$v"; done
export OS_CLIENT_CONFIG_FILE="$state/clouds.yaml" OS_CLOUD=bootstack

os() {
  echo
  echo "+ openstack $*"
  openstack "$@"
}

head -c $((4 * 1024 * 1024)) /dev/urandom >"$state/demo.img"
os token issue
os catalog list
os image create --file "$state/demo.img" --disk-format raw --container-format bare --private demo-image
os image list
os image show demo-image
os image save --file "$state/demo.out" demo-image
echo
echo "+ cmp demo.img demo.out && md5sum/sha512sum"
cmp "$state/demo.img" "$state/demo.out"
md5sum "$state/demo.img" "$state/demo.out" | sed "s|$state/||"
sha512sum "$state/demo.img" | cut -c1-32
os image delete demo-image
os image list
echo
echo "demo finished: stopping the server"
