import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OPENSTACK_VERSIONS, configDriveFiles, ec2MetaData, metadataAnswer, openstackTree, standardMetaData, type InstanceContent } from './instance-metadata.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 test@bootstack';
const OCC = { collectors: ['request'], request: { metadata_url: 'http://seed/x?sig=1' }, deep: { a: [1, { b: null }] } };

function content(extra: Partial<InstanceContent> = {}): InstanceContent {
  return {
    meta_data: standardMetaData({ uuid: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', name: 'web-0', project_id: 'p1', public_keys: { mykey: KEY }, 'os-collect-config': OCC }),
    ...extra,
  };
}

test('standard meta_data keys are added, the caller keeps the last word and extra objects survive untouched', () => {
  const m = standardMetaData({ uuid: 'u', name: 'n', hostname: 'given.example', 'os-collect-config': OCC, launch_index: 3 });
  assert.equal(m.uuid, 'u');
  assert.equal(m.name, 'n');
  assert.equal(m.hostname, 'given.example');
  assert.equal(m.availability_zone, 'nova');
  assert.equal(m.launch_index, 3);
  assert.deepEqual(m.public_keys, {});
  assert.deepEqual(m.keys, []);
  assert.deepEqual(m.meta, {});
  assert.deepEqual(m.devices, []);
  assert.equal(m['os-collect-config'], OCC);
  assert.deepEqual(standardMetaData({ public_keys: { k: KEY } }).keys, [{ name: 'k', type: 'ssh', data: KEY }]);
  assert.equal('project_id' in standardMetaData({}), false, 'project_id only when known');
});

test('the OpenStack tree has every version; optional files appear from the version that introduced them', () => {
  const tree = openstackTree(content({ user_data: '#cloud-config\n' }));
  for (const v of [...OPENSTACK_VERSIONS, 'latest']) {
    assert.ok(tree.has(`openstack/${v}/meta_data.json`), v);
    assert.equal(tree.get(`openstack/${v}/user_data`), '#cloud-config\n');
  }
  assert.equal(tree.has('openstack/2012-08-10/network_data.json'), false);
  assert.equal(tree.has('openstack/2013-04-04/vendor_data.json'), false);
  assert.equal(tree.has('openstack/2013-10-17/vendor_data.json'), true);
  assert.equal(tree.has('openstack/2015-10-15/network_data.json'), true);
  assert.equal(tree.has('openstack/2016-06-30/vendor_data2.json'), false);
  assert.equal(tree.has('openstack/2016-10-06/vendor_data2.json'), true);
  assert.deepEqual(JSON.parse(tree.get('openstack/latest/network_data.json')!), { links: [], networks: [], services: [] });
  assert.equal(tree.get('openstack/latest/vendor_data.json'), '{}');
  const meta = JSON.parse(tree.get('openstack/latest/meta_data.json')!);
  assert.deepEqual(meta['os-collect-config'], OCC);
  assert.equal(meta.project_id, 'p1');
  // No user data: no file at all (Nova answers 404), in no version.
  assert.equal([...openstackTree(content()).keys()].some((p) => p.endsWith('/user_data')), false);
});

test('config drive files: the OpenStack tree plus ec2/<version>/meta-data.json, the same bytes as the HTTP answers', () => {
  const c = content({ user_data: 'secret-user-data', vendor_data: { v: 1 }, vendor_data2: { static: { x: 1 } } });
  const files = configDriveFiles(c);
  for (const [path, body] of files) {
    if (path.startsWith('openstack/')) assert.equal(metadataAnswer(c, `/${path}`)?.body, body, path);
  }
  assert.equal(files.get('ec2/latest/meta-data.json'), JSON.stringify(ec2MetaData(c)));
  assert.equal(files.get('ec2/2009-04-04/meta-data.json'), JSON.stringify(ec2MetaData(c)));
  assert.equal(files.get('ec2/latest/user-data'), 'secret-user-data');
  assert.equal(metadataAnswer(c, '/latest/user-data')?.body, 'secret-user-data');
});

test('HTTP answers: listings, content types, 404s', () => {
  const c = content({ network_data: { links: [], networks: [{ id: 'n0', type: 'ipv4', link: 'l0', ip_address: '192.0.2.7', netmask: '255.255.255.0' }], services: [] } });
  assert.deepEqual(metadataAnswer(c, '/openstack'), { body: [...OPENSTACK_VERSIONS, 'latest'].join('\n'), contentType: 'text/plain' });
  assert.equal(metadataAnswer(c, '/openstack/')?.body, metadataAnswer(c, '/openstack')?.body);
  assert.equal(metadataAnswer(c, '/openstack/latest')?.body, 'meta_data.json\nnetwork_data.json\nvendor_data.json\nvendor_data2.json');
  assert.equal(metadataAnswer(c, '/openstack/2012-08-10/')?.body, 'meta_data.json');
  assert.equal(metadataAnswer(c, '/openstack/latest/meta_data.json')?.contentType, 'application/json');
  assert.equal(metadataAnswer(c, '/openstack/latest/user_data'), undefined);
  assert.equal(metadataAnswer(c, '/openstack/2011-01-01/meta_data.json'), undefined);
  assert.equal(metadataAnswer(c, '/openstack/latest/meta_data.json/x'), undefined);

  assert.equal(metadataAnswer(c, '/')?.body, '2009-04-04\nlatest');
  assert.equal(metadataAnswer(c, '/latest/')?.body, 'meta-data');
  const md = metadataAnswer(c, '/latest/meta-data/')!;
  assert.equal(md.contentType, 'text/plain');
  const entries = md.body.split('\n');
  for (const e of ['ami-id', 'hostname', 'instance-id', 'local-hostname', 'local-ipv4', 'placement/', 'public-keys/', 'reservation-id', 'security-groups', 'instance-type']) {
    assert.ok(entries.includes(e), `${e} in ${md.body}`);
  }
  assert.equal(metadataAnswer(c, '/2009-04-04/meta-data/hostname')?.body, 'web-0');
  assert.equal(metadataAnswer(c, '/latest/meta-data/local-ipv4')?.body, '192.0.2.7');
  assert.equal(metadataAnswer(c, '/latest/meta-data/placement/availability-zone')?.body, 'nova');
  assert.equal(metadataAnswer(c, '/latest/meta-data/public-keys')?.body, '0=mykey');
  assert.equal(metadataAnswer(c, '/latest/meta-data/public-keys/0/')?.body, 'openssh-key');
  assert.equal(metadataAnswer(c, '/latest/meta-data/public-keys/0/openssh-key')?.body, KEY);
  assert.equal(metadataAnswer(c, '/latest/meta-data/security-groups')?.body, 'default');
  assert.match(metadataAnswer(c, '/latest/meta-data/instance-id')!.body, /^i-0a1b2c3d$/);
  assert.equal(metadataAnswer(c, '/latest/user-data'), undefined);
  assert.equal(metadataAnswer(c, '/latest/meta-data/nope'), undefined);
  assert.equal(metadataAnswer(c, '/latest/meta-data/constructor'), undefined);
  assert.equal(metadataAnswer(c, '/1999-01-01/meta-data/'), undefined);
  // Without a static address, local-ipv4 is not known and not listed.
  assert.equal(metadataAnswer(content(), '/latest/meta-data/local-ipv4'), undefined);
});
