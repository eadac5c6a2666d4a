#!/bin/sh
# Installs Debian's Ironic and Heat for `npm run bench -- anchors` (the "anchor" implementations
# Bootstack is measured against). Non-interactive; daemons are kept from starting because there
# is no init system here and the bench starts its own processes with its own configs.
# Usage: sh scripts/anchors-setup.sh [ironic] [heat]   (both when no argument)
set -eu
want="${*:-ironic heat}"
pkgs=""
for a in $want; do
  case "$a" in
    ironic) pkgs="$pkgs ironic-api ironic-conductor" ;;
    heat) pkgs="$pkgs heat-api heat-engine" ;;
    *) echo "anchors-setup: unknown anchor '$a' (ironic|heat)" >&2; exit 2 ;;
  esac
done
if [ "$(id -u)" != 0 ]; then echo "anchors-setup: must run as root to apt-get install:$pkgs" >&2; exit 1; fi
# policy-rc.d exiting 101 tells invoke-rc.d not to start services from postinst.
if [ ! -x /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; fi
export DEBIAN_FRONTEND=noninteractive
# The packages ask (debconf) whether to configure a database/keystone/rabbit: answer no.
apt-get update -q >/dev/null || { echo "anchors-setup: apt-get update failed (no network or no apt sources?)" >&2; exit 1; }
apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $pkgs
