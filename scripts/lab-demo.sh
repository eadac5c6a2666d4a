#!/usr/bin/env bash
# The main job: a seed deploys a virtual lab end to end, driven by the commands an operator types.
#
#   scripts/lab-demo.sh [up]     start the seed, bring up a 2-machine lab, build the deploy ramdisk and
#                                the sample image (cached), enrol, inspect one machine, deploy both
#                                with a config drive (hostname + SSH key), SSH into each
#   scripts/lab-demo.sh down     stop the seed and remove the lab (the image cache stays)
#
# Environment: BOOTSTACK_DEMO_DIR (default ./.demo), DEMO_NODES (2), DEMO_MEMORY_MIB (1024),
# DEMO_DISK_GIB (4), DEMO_FIRMWARE (bios|uefi), DEMO_ACCEL (auto|kvm|tcg), DEMO_PORT (6385).
# Everything stays up after `up` so you can look around; every command is printed before it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
demo=$(realpath -m "${BOOTSTACK_DEMO_DIR:-$root/.demo}")
lab=$demo/lab
state=$demo/state
nodes=${DEMO_NODES:-2}
bootstack() { "$root/bin/bootstack.js" "$@"; }

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() {
  echo "+ $*"
  "$@"
}
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s);console.log(eval("v"+process.argv[1]))})' "$1"; }

# Stops the seed this demo started (SIGTERM; it stops dnsmasq itself), only if the pid file still
# names it: a stale file's pid may belong to an unrelated process by now. After 10 s the seed's
# process group (it was started with setsid: the seed and its dnsmasq) is killed, so that `down`
# never leaves a seed serving DHCP on a network it is about to remove.
stop_seed() {
  [ -f "$demo/serve.pid" ] || return 0
  local pid cmdline=
  pid=$(cat "$demo/serve.pid")
  [[ $pid =~ ^[0-9]+$ ]] && cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
  if [[ $cmdline == *"bin/bootstack.js serve -c $demo/bootstack.yaml "* ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "the seed ($pid) did not stop within 10 s: killing it and its dnsmasq" >&2
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$demo/serve.pid"
}

if [ "${1:-up}" = down ]; then
  stop_seed
  if [ -f "$lab/lab.json" ]; then run bootstack lab down --dir "$lab"; fi
  # Only what `up` made: BOOTSTACK_DEMO_DIR may name a directory that holds other files.
  rm -rf "$state" "$lab" "$demo/images" "$demo/serve.out" "$demo/serve.log" "$demo/bootstack.yaml" \
    "$demo/id_ed25519" "$demo/id_ed25519.pub" "$demo/deployed.txt"
  rmdir "$demo" 2>/dev/null || true
  exit 0
fi
[ "${1:-up}" = up ] || { echo "usage: $0 [up|down]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "the lab needs root (network namespaces, taps, QEMU); run as root" >&2; exit 1; }
if [ -e "$state" ] || [ -e "$lab/lab.json" ]; then
  echo "a demo already exists in $demo: run '$0 down' first" >&2
  exit 1
fi
mkdir -p "$demo" "$state"
# A failed step leaves the lab and the seed up for a look; say how to clean up, and stop any
# `openstack ... --wait` still running in the background.
trap 'rc=$?; if [ $rc -ne 0 ]; then jobs -p | grep -vxF "$(cat "$demo/serve.pid" 2>/dev/null || echo none)" | xargs -r kill 2>/dev/null; echo "lab-demo failed (exit $rc); the seed log is $demo/serve.log; clean up with: $0 down" >&2; fi' EXIT
chmod 700 "$demo"

say "1/7 the virtual lab: $nodes QEMU machines behind a Redfish BMC"
run bootstack lab up --dir "$lab" --nodes "$nodes" --memory "${DEMO_MEMORY_MIB:-1024}" --disk "${DEMO_DISK_GIB:-4}" \
  --firmware "${DEMO_FIRMWARE:-bios}" --accel "${DEMO_ACCEL:-auto}" --bmc-port 0
seed_if=$(json .network.seedInterface <"$lab/lab.json")
seed_ip=$(json .network.seedAddress <"$lab/lab.json")
prefix=${seed_ip%.*}

say "2/7 images: the deploy ramdisk and a Debian sample image (built once, then cached)"
run bootstack image samples --out "$demo/images"

say "3/7 the seed: one process, SQLite, dnsmasq on $seed_if"
mkdir -p "$state/boot-files"
ln -sf "$demo/images/deploy.kernel" "$state/boot-files/deploy.kernel"
ln -sf "$demo/images/deploy.initramfs" "$state/boot-files/deploy.initramfs"
cat >"$demo/bootstack.yaml" <<EOF
state_dir: $state
listen:
  host: $seed_ip
  port: ${DEMO_PORT:-6385}
boot:
  files_dir: $state/boot-files
  kernel_args: console=ttyS0
  dnsmasq:
    enabled: true
    interface: $seed_if
    range_start: $prefix.100
    range_end: $prefix.199
EOF
stop_seed
echo "+ bootstack serve -c $demo/bootstack.yaml  (log: $demo/serve.log)"
setsid "$root/bin/bootstack.js" serve -c "$demo/bootstack.yaml" >"$demo/serve.out" 2>"$demo/serve.log" </dev/null &
echo $! >"$demo/serve.pid"
for _ in $(seq 1 200); do
  grep -q 'serving on' "$demo/serve.out" 2>/dev/null && break
  kill -0 "$(cat "$demo/serve.pid")" 2>/dev/null || { echo "bootstack serve failed:"; tail -20 "$demo/serve.log"; exit 1; }
  sleep 0.1
done
grep -q 'serving on' "$demo/serve.out" || { echo "bootstack serve did not start in 20 s"; tail -20 "$demo/serve.log"; exit 1; }
for v in $(env | sed -n 's/^\(OS_[A-Za-z_]*\)=.*/\1/p'); do unset "$v"; done
export OS_CLIENT_CONFIG_FILE=$state/clouds.yaml OS_CLOUD=bootstack OS_BAREMETAL_API_VERSION=1.78

say "4/7 enrol the machines and check them"
run bootstack node import "$lab/instackenv.json"
node_list=$(openstack baremetal node list -f value -c Name)
mapfile -t names < <(sort <<<"$node_list")
[ "${#names[@]}" -eq "$nodes" ] || { echo "expected $nodes nodes after the import, the seed lists ${#names[@]}: ${names[*]}" >&2; exit 1; }
for n in "${names[@]}"; do run openstack baremetal node manage --wait 120 "$n"; done
# Inspection by the deploy agent on the machine itself (redfish's default asks the BMC instead).
run openstack baremetal node set "${names[0]}" --inspect-interface agent
run openstack baremetal node inspect --wait 600 "${names[0]}"
run openstack baremetal node show "${names[0]}" -f yaml -c properties
pids=()
for n in "${names[@]}"; do
  run openstack baremetal node provide --wait 600 "$n" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
run openstack baremetal node list

say "5/7 upload the sample image"
run openstack image create --disk-format qcow2 --container-format bare --file "$demo/images/sample.qcow2" demo-sample
image_id=$(openstack image show demo-sample -f value -c id)
[ -f "$demo/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C bootstack-demo -f "$demo/id_ed25519"
key=$(cat "$demo/id_ed25519.pub")

say "6/7 deploy: network boot, the agent streams the image to disk, config drive, reboot"
pids=()
for n in "${names[@]}"; do
  run openstack baremetal node set "$n" --instance-info image_source="$image_id"
  drive="{\"meta_data\": {\"hostname\": \"$n\", \"public_keys\": {\"demo\": \"$key\"}}}"
  run openstack baremetal node deploy --wait 1200 --config-drive "$drive" "$n" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
run openstack baremetal node list

say "7/7 the deployed systems: SSH over the provisioning network"
ssh_opts=(-i "$demo/id_ed25519" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 -o LogLevel=ERROR)
for n in "${names[@]}"; do
  mac=$(openstack baremetal port list --node "$n" -f value -c Address | head -n 1)
  ip=
  for _ in $(seq 1 180); do
    # The MAC may hold several leases (the ramdisk's, the deployed system's); the deployed system
    # sends the hostname from its config drive, so try its lease first.
    for candidate in $(awk -v mac="$mac" -v name="$n" '$2 == mac { print ($4 == name ? 0 : 1), $3 }' "$state/boot/dnsmasq.leases" 2>/dev/null | sort | cut -d' ' -f2); do
      ssh "${ssh_opts[@]}" "root@$candidate" true 2>/dev/null && { ip=$candidate; break; }
    done
    [ -n "$ip" ] && break
    sleep 2
  done
  [ -n "$ip" ] || { echo "$n: no SSH answer within 6 minutes; its console:"; bootstack lab console --dir "$lab" "$n" | tail -30; exit 1; }
  echo "$n is at $ip"
  run ssh "${ssh_opts[@]}" "root@$ip" 'echo "$(hostname): $(uname -sr), up $(cut -d" " -f1 /proc/uptime) s"'
  echo "$n $ip" >>"$demo/deployed.txt"
done

cat <<EOF

Done. The seed and the lab are still running. Where to look:
  export OS_CLIENT_CONFIG_FILE=$state/clouds.yaml OS_CLOUD=bootstack
  openstack baremetal node list
  bootstack node timeline ${names[0]}                 # DHCP → iPXE → ramdisk → agent → image → reboot → first contact
  bootstack lab console --dir $lab ${names[0]}        # the machine's serial console
  ssh -i $demo/id_ed25519 root@<ip>                   # addresses in $demo/deployed.txt
  tail -f $demo/serve.log                              # the seed's log
Stop everything: scripts/lab-demo.sh down
EOF
