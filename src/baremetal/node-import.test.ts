// Node files: instackenv.json and its YAML equivalent parse to the same nodes; problems are
// reported with file, line and field; planning finds only real differences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNodeFile, planNode } from './node-import.js';

const JSON_FILE = `{
  "nodes": [
    {
      "name": "ctrl-0",
      "pm_type": "ipmi",
      "pm_addr": "192.0.2.10",
      "pm_user": "admin",
      "pm_password": "p@ss",
      "pm_port": "6230",
      "mac": ["52:54:00:AA:00:01"],
      "cpu": "4",
      "memory": "8192",
      "disk": "40",
      "arch": "x86_64",
      "capabilities": "profile:control,boot_mode:uefi"
    },
    {
      "name": "compute-0",
      "pm_type": "redfish",
      "pm_addr": "https://192.0.2.20",
      "pm_user": "root",
      "pm_password": "calvin",
      "pm_system_id": "/redfish/v1/Systems/1",
      "redfish_verify_ca": false,
      "ports": [{ "address": "52:54:00:aa:00:02", "physical_network": "ctlplane" }],
      "resource_class": "compute"
    },
    { "name": "fake-0", "pm_type": "fake-hardware", "mac": ["52-54-00-aa-00-03"] }
  ]
}`;

const YAML_FILE = `nodes:
  - name: ctrl-0
    pm_type: ipmi
    pm_addr: 192.0.2.10
    pm_user: admin
    pm_password: p@ss
    pm_port: "6230"
    mac: ["52:54:00:AA:00:01"]
    cpu: 4
    memory: 8192
    disk: 40
    arch: x86_64
    capabilities: {profile: control, boot_mode: uefi}
  - name: compute-0
    pm_type: redfish
    pm_addr: https://192.0.2.20
    pm_user: root
    pm_password: calvin
    pm_system_id: /redfish/v1/Systems/1
    redfish_verify_ca: false
    ports:
      - {address: "52:54:00:aa:00:02", physical_network: ctlplane}
    resource_class: compute
  - {name: fake-0, pm_type: fake-hardware, mac: ["52-54-00-aa-00-03"]}
`;

test('instackenv.json maps to drivers, driver_info, properties and ports', () => {
  const [ctrl, compute, fake] = parseNodeFile('nodes.json', JSON_FILE);
  assert.deepEqual(ctrl, {
    label: 'nodes[0] (ctrl-0)',
    name: 'ctrl-0',
    driver: 'ipmi',
    driver_info: { ipmi_address: '192.0.2.10', ipmi_username: 'admin', ipmi_password: 'p@ss', ipmi_port: '6230' },
    properties: { cpus: 4, memory_mb: 8192, local_gb: 40, cpu_arch: 'x86_64', capabilities: 'profile:control,boot_mode:uefi' },
    resource_class: 'baremetal',
    ports: [{ address: '52:54:00:aa:00:01' }],
  });
  assert.deepEqual(compute!.driver_info, {
    redfish_address: 'https://192.0.2.20',
    redfish_username: 'root',
    redfish_password: 'calvin',
    redfish_system_id: '/redfish/v1/Systems/1',
    redfish_verify_ca: false,
  });
  assert.deepEqual(compute!.ports, [{ address: '52:54:00:aa:00:02', physical_network: 'ctlplane' }]);
  assert.equal(compute!.resource_class, 'compute');
  assert.equal(fake!.driver, 'fake-hardware');
  assert.deepEqual(fake!.ports, [{ address: '52:54:00:aa:00:03' }]);
});

test('the YAML equivalent gives the same nodes', () => {
  const strip = (l: ReturnType<typeof parseNodeFile>) => l.map((n) => ({ ...n }));
  assert.deepEqual(strip(parseNodeFile('nodes.yaml', YAML_FILE)), strip(parseNodeFile('nodes.json', JSON_FILE)));
});

test('problems name the file, line and field', () => {
  assert.throws(() => parseNodeFile('n.yaml', 'nodes:\n  - name: a\n    pm_type: ilo\n'), /n\.yaml:3: nodes\[0\]\.pm_type: unsupported pm_type "ilo"/);
  assert.throws(() => parseNodeFile('n.yaml', 'nodes:\n  - name: a\n    pm_type: fake\n    mac: [zz]\n'), /n\.yaml:4: nodes\[0\]\.mac\[0\]: "zz" is not a MAC address/);
  assert.throws(
    () => parseNodeFile('n.yaml', 'nodes:\n  - {name: a, pm_type: fake, mac: ["52:54:00:00:00:01"]}\n  - {name: b, pm_type: fake, mac: ["52:54:00:00:00:01"]}\n'),
    /n\.yaml:3: .*MAC 52:54:00:00:00:01 is also listed for nodes\[0\] \(a\)/,
  );
  assert.throws(() => parseNodeFile('n.json', '{"nodes": [{"name": "a", "pm_type": "ipmi"}]}'), /n\.json:1: nodes\[0\]\.pm_addr: is required for pm_type ipmi/);
  assert.throws(() => parseNodeFile('n.yaml', 'nodes:\n  - name: a\n    pm_type: fake\n    cpu: many\n'), /n\.yaml:4: nodes\[0\]\.cpu: must be a whole number/);
  assert.throws(() => parseNodeFile('n.yaml', 'machines: []\n'), /"nodes" list/);
});

test('planning: no changes for an identical node (secrets re-applied, not counted); differences listed', () => {
  const [ctrl] = parseNodeFile('nodes.json', JSON_FILE);
  const existing = {
    uuid: 'u1',
    name: 'ctrl-0',
    driver: 'ipmi',
    driver_info: { ipmi_address: '192.0.2.10', ipmi_username: 'admin', ipmi_password: '******', ipmi_port: '6230' },
    properties: { cpus: 4, memory_mb: 8192, local_gb: 40, cpu_arch: 'x86_64', capabilities: 'profile:control,boot_mode:uefi', extra_from_inspection: 1 },
    resource_class: 'baremetal',
  };
  const port = { uuid: 'p1', address: '52:54:00:aa:00:01', node_uuid: 'u1', physical_network: null, local_link_connection: {}, pxe_enabled: true };
  const same = planNode(ctrl!, existing, [port]);
  assert.deepEqual(same.changes, []);
  assert.deepEqual(same.patch, [{ op: 'add', path: '/driver_info/ipmi_password', value: 'p@ss' }]);
  const changed = planNode({ ...ctrl!, properties: { ...ctrl!.properties, cpus: 8 }, ports: [...ctrl!.ports, { address: '52:54:00:aa:00:09' }] }, existing, [port]);
  assert.deepEqual(changed.changes, ['properties.cpus', 'port 52:54:00:aa:00:09 created']);
  assert.throws(() => planNode(ctrl!, existing, [{ ...port, node_uuid: 'other' }]), /already belongs to node other/);
});
