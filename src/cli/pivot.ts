// `bootstack pivot --to <url>`: hands every record of the seed (the cloud named by --os-cloud or
// OS_*) to a receiver started with pivot.receive and pivot.token (docs/pivot.md). Safe to kill
// and run again; prints each step as it goes and what was handed over at the end.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../common/errors.js';
import { loadCloud } from './node.js';
import { formatList, formatShow, parseFormat } from './output.js';
import { runPivot } from '../pivot/run.js';

export function registerPivot(program: Command): void {
  program
    .command('pivot')
    .description("hand every record of this cloud (the seed) to another Bootstack server (the undercloud) and make this one read-only; idempotent: re-run after any interruption")
    .requiredOption('--to <url>', "the receiver's URL, e.g. http://192.168.24.2:6385")
    .option('--token-file <file>', "file holding the receiver's pivot token (default: $BOOTSTACK_PIVOT_TOKEN)")
    .option('--os-cloud <name>', 'the seed: a cloud in clouds.yaml with admin credentials (default: $OS_CLOUD, else the OS_* variables)')
    .option('-f, --format <format>', 'output format: table, json, yaml, value', 'table')
    .addHelpText('after', '\nSteps: begin (the seed turns read-only, stops its conductor and DHCP), export, images (streamed, sha512 checked on arrival),\nimport (one transaction on the receiver, which then starts its own DHCP), complete (the seed records where its records live).')
    .action(async (o: { to: string; tokenFile?: string; osCloud?: string; format: string }) => {
      const format = parseFormat(o.format);
      const token = (o.tokenFile ? readFileSync(o.tokenFile, 'utf8') : (process.env.BOOTSTACK_PIVOT_TOKEN ?? '')).trim();
      if (!token) throw new ConfigError("the receiver's pivot token is needed: --token-file FILE or BOOTSTACK_PIVOT_TOKEN");
      const { auth } = loadCloud(o.osCloud);
      const report = await runPivot({
        from: auth,
        to: { url: o.to, token },
        onProgress: (step, detail) => process.stderr.write(`pivot: ${step}${detail ? `: ${detail}` : ''}\n`),
      });
      if (format === 'table') {
        const rows = Object.entries(report.counts).map(([table, rows]) => ({ table, rows }));
        process.stdout.write(formatList(rows, ['table', 'rows'], format) + '\n');
        process.stdout.write(`handed over to ${report.to} (pivot ${report.pivot_id}): ${report.images} images, ${report.bytes_sent} bytes sent by this run, ${report.seconds} s\n`);
      } else {
        process.stdout.write(formatShow(report as unknown as Record<string, unknown>, format) + '\n');
      }
    });
}
