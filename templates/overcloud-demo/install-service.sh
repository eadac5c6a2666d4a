#!/bin/sh
# Installs and starts one service of the overcloud demo as a systemd unit; the `script` deployment
# of templates/overcloud-demo.yaml runs it on the machine. The template puts the service's name
# and its Node program in place of the two markers below (str_replace) before it is sent.
# Inputs (environment variables, from the deployment's input_values):
#   port                   the port the service listens on
#   db_address, db_port    web only: where the database machine answers
# Output: hostname (the machine's, as the service reports it).
set -eu
name=__SERVICE__
lib=/usr/local/lib/overcloud-demo
unit=overcloud-demo-$name
: "${port:?the deployment gave no port input}"

mkdir -p "$lib"
cat >"$lib/$name.mjs.new" <<'OVERCLOUD_DEMO_PROGRAM_END'
__PROGRAM__
OVERCLOUD_DEMO_PROGRAM_END
mv "$lib/$name.mjs.new" "$lib/$name.mjs"

{
  echo "PORT=$port"
  if [ "$name" = db ]; then
    echo "DB_FILE=/var/lib/overcloud-demo/kv.json"
  else
    [ -n "${db_address:-}" ] || { echo "the deployment gave no db_address input: the web service needs the database machine's address" >&2; exit 2; }
    echo "DB_URL=http://$db_address:${db_port:-8081}"
  fi
} >"/etc/default/$unit"

cat >"/etc/systemd/system/$unit.service" <<UNIT
[Unit]
Description=Bootstack overcloud demo: $name
Wants=network-online.target
After=network-online.target

[Service]
EnvironmentFile=/etc/default/$unit
ExecStart=/usr/bin/node $lib/$name.mjs
StateDirectory=overcloud-demo
StateDirectoryMode=0700
Restart=always
RestartSec=2
NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=full

[Install]
WantedBy=multi-user.target
UNIT

systemctl daemon-reload
systemctl enable "$unit.service"
# restart, not start: an update of the stack brings a new program or new inputs.
systemctl restart "$unit.service"

tries=0
until curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/health"; do
  tries=$((tries + 1))
  if [ "$tries" -ge 30 ]; then
    echo "$unit does not answer on port $port after 30 tries:" >&2
    systemctl --no-pager status "$unit.service" >&2 || true
    journalctl --no-pager -u "$unit.service" -n 30 >&2 || true
    exit 1
  fi
  sleep 1
done
hostname | tr -d '\n' >"$heat_outputs_path.hostname"
echo "$unit is running on $(hostname), port $port"
