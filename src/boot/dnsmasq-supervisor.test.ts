// A dnsmasq that cannot start (its interface does not exist) is retried with growing delays and
// each failure is logged with dnsmasq's own message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { dnsmasqConfigSchema } from './config.js';
import { renderDnsmasqConfig } from './dnsmasq-config.js';
import { DnsmasqSupervisor } from './dnsmasq-supervisor.js';

test('failures are logged with their cause and retried with exponential backoff', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bootstack-dnsmasq-fail-'));
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  const abort = new AbortController();
  try {
    const settings = dnsmasqConfigSchema.parse({ interface: 'bsnoexist0', range_start: '10.254.0.10', range_end: '10.254.0.20', ipv6_ra: false });
    const sup = new DnsmasqSupervisor({
      workDir: dir,
      config: renderDnsmasqConfig(settings, { hostsDir: dir, leaseFile: join(dir, 'leases'), ipxeScriptUrl: 'http://127.0.0.1/boot/boot.ipxe' }),
      log: pino({ level: 'error' }, sink),
      backoffMs: 50,
      maxBackoffMs: 400,
    });
    const running = sup.start(abort.signal);
    const deadline = Date.now() + 15_000;
    while (sup.restarts < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    abort.abort();
    await running;
    assert.ok(sup.restarts >= 3, `restarts: ${sup.restarts}`);
    const errors = lines.filter((l) => typeof l.msg === 'string' && /dnsmasq exited with code/.test(l.msg as string));
    assert.ok(errors.length >= 3);
    assert.match(JSON.stringify(errors[0]!.lastLines), /unknown interface bsnoexist0/);
    assert.deepEqual(errors.slice(0, 3).map((e) => e.restartInMs), [50, 100, 200]);
  } finally {
    abort.abort();
    await rm(dir, { recursive: true, force: true });
  }
});
