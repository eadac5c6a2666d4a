#!/usr/bin/env bash
# Installs everything Bootstack needs on Debian 12 (as root): the Debian packages listed in
# scripts/debian-packages/*.txt, then the npm dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
# PID 1 is not systemd on our lab/CI machines and we start daemons ourselves: stop package
# scripts from trying to start services during installation.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
fi
mapfile -t packages < <(cat scripts/debian-packages/*.txt | sed 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ "${1:-}" != "--no-npm" ]; then
  npm ci --no-audit --no-fund
  npm run build
fi
