// `bootstack image build ...` and `bootstack disk-image-create ...` (diskimage-builder's command
// line): both build an image from elements with src/image-builder.
import { Option, type Command } from 'commander';
import { buildImage, OUTPUT_TYPES, type OutputType } from '../image-builder/build.js';
import { splitElementsPath } from '../image-builder/elements.js';
import { ValidationError } from '../common/errors.js';
import { ensureDemoImages } from '../image-builder/demo-images.js';
import { buildSampleImage, type SampleImage } from '../image-builder/sample-image.js';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';

interface BuildFlags {
  output: string;
  type: string;
  arch: string;
  imageSize?: string;
  package?: string[];
  offline?: boolean;
  verbose?: boolean;
  trace?: boolean;
  elementsPath?: string;
  json?: boolean;
}

/** Sizes as disk-image-create takes them (a number is GB) or with a unit suffix (M, G). */
export function parseImageSize(v: string): number {
  const m = /^(\d+(?:\.\d+)?)([MGT]i?B?)?$/i.exec(v.trim());
  if (!m) throw new ValidationError(`invalid --image-size ${v}`, { path: 'image-size' });
  const unit = (m[2] ?? 'G')[0]!.toUpperCase();
  const mult = unit === 'M' ? 1024 ** 2 : unit === 'T' ? 1024 ** 4 : 1024 ** 3;
  return Math.round(Number(m[1]) * mult);
}

export function parseTypes(v: string): OutputType[] {
  const types = v.split(',').map((t) => t.trim()).filter((t) => t);
  for (const t of types) {
    if (!(OUTPUT_TYPES as readonly string[]).includes(t)) {
      throw new ValidationError(`unknown image type ${t} (known: ${OUTPUT_TYPES.join(', ')})`, { path: 'type' });
    }
  }
  return types as OutputType[];
}

function addBuildOptions(cmd: Command): Command {
  return cmd
    .requiredOption('-o, --output <name>', 'output path prefix (extensions are added per type)')
    .option('-t, --type <types>', `comma-separated output types: ${OUTPUT_TYPES.join(', ')}`, 'qcow2')
    .option('-a, --arch <arch>', 'architecture (amd64, arm64)', 'amd64')
    .option('--image-size <size>', 'whole-disk size: a number of GB, or with M/G suffix')
    .option('-p, --package <pkgs>', 'extra packages to install, comma-separated (repeatable)', (v: string, prev: string[] = []) => [
      ...prev,
      ...v.split(',').filter((x) => x),
    ])
    .option('--offline', 'use only the cache (base tarball, apt cache and lists); fail if it is missing')
    .option('-v, --verbose', 'stream hook output')
    .option('-x, --trace', 'trace hook scripts (sets DIB_DEBUG_TRACE=1) and stream their output')
    .option('--elements-path <dirs>', 'element directories, colon-separated (default: $ELEMENTS_PATH); built-in elements come last')
    .option('--json', 'print the result as JSON');
}

async function runBuild(elements: string[], flags: BuildFlags): Promise<void> {
  const controller = new AbortController();
  const onSignal = () => {
    process.stderr.write('\ninterrupted: cleaning up (mounts, processes, temporary files)...\n');
    controller.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const started = Date.now();
  const stamp = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s]`;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith('DIB_') && v !== undefined)) as Record<
    string,
    string
  >;
  if (flags.trace) env.DIB_DEBUG_TRACE = '1';
  try {
    const result = await buildImage({
      elements,
      output: flags.output,
      types: parseTypes(flags.type),
      arch: flags.arch,
      imageSize: flags.imageSize === undefined ? undefined : parseImageSize(flags.imageSize),
      packages: flags.package,
      elementsPath: splitElementsPath(flags.elementsPath ?? process.env.ELEMENTS_PATH ?? ''),
      offline: !!flags.offline || process.env.DIB_OFFLINE === '1',
      verbose: !!flags.verbose || !!flags.trace,
      env,
      signal: controller.signal,
      log: (line) => process.stderr.write(`${stamp()} ${line}\n`),
      write: (chunk) => process.stderr.write(chunk),
    });
    if (flags.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else for (const o of result.outputs) process.stdout.write(`${o.type}\t${o.path}\t${o.bytes}\t${o.sha256}\n`);
  } catch (err) {
    if (!controller.signal.aborted) throw err;
    process.stderr.write(`${(err as Error).message}\n`);
    process.exitCode = 130;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function registerImage(program: Command): void {
  const image = program.command('image').description('build machine images from diskimage-builder elements');
  addBuildOptions(
    image
      .command('build')
      .description('build an image from elements (e.g. debian-minimal vm) into raw/qcow2/tar/partition/initramfs outputs')
      .argument('<elements...>', 'elements to include (their dependencies are added)'),
  ).action(async (elements: string[], flags: BuildFlags) => runBuild(elements, flags));

  image
    .command('samples')
    .description('build (once, then from the cache) the deploy ramdisk and the Debian sample image the lab demo deploys')
    .option('--out <dir>', 'also link them here as deploy.kernel, deploy.initramfs, sample.raw, sample.qcow2 (and sample-cloud-init.*)')
    .option('--cloud-init', 'also build the sample-cloud-init image (first boot by cloud-init instead of the config-drive element)')
    .option('--force', 'rebuild even when the inputs are unchanged')
    .option('--json', 'print the paths as JSON')
    .action(async (flags: { out?: string; cloudInit?: boolean; force?: boolean; json?: boolean }) => {
      const started = Date.now();
      const stamp = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s]`;
      const log = (line: string) => process.stderr.write(`${stamp()} ${line}\n`);
      // buildSampleImage bundles src/agents itself for images that carry them: no dist/ needed.
      const images = await ensureDemoImages({ force: flags.force, log });
      let cloudInit: SampleImage | undefined;
      if (flags.cloudInit) {
        cloudInit = await buildSampleImage(undefined, { variant: 'cloud-init', force: flags.force, log });
        if (!cloudInit.cached) images.built.push('sample-cloud-init');
      }
      const links: Record<string, string> = { 'deploy.kernel': images.kernel, 'deploy.initramfs': images.initramfs, 'sample.raw': images.raw, 'sample.qcow2': images.qcow2 };
      if (cloudInit) Object.assign(links, { 'sample-cloud-init.raw': cloudInit.raw, 'sample-cloud-init.qcow2': cloudInit.qcow2 });
      if (flags.out) {
        const out = resolve(flags.out);
        mkdirSync(out, { recursive: true });
        for (const [name, target] of Object.entries(links)) {
          rmSync(join(out, name), { force: true });
          symlinkSync(target, join(out, name));
        }
      }
      if (flags.json) process.stdout.write(JSON.stringify(cloudInit ? { ...images, cloudInit: { raw: cloudInit.raw, qcow2: cloudInit.qcow2 } } : images, null, 2) + '\n');
      else for (const [name, target] of Object.entries(links)) process.stdout.write(`${name}\t${target}\n`);
      log(images.built.length ? `built: ${images.built.join(', ')}` : 'all from the cache');
    });

  // diskimage-builder's command line: the same options and elements, positional after options.
  addBuildOptions(
    program
      .command('disk-image-create')
      .description('diskimage-builder compatible: disk-image-create -o NAME [-t TYPES] [-a ARCH] ELEMENTS...')
      .argument('<elements...>', 'elements to include')
      .addOption(new Option('-u', 'accepted for compatibility (images are not compressed)'))
      .addOption(new Option('-n', 'accepted for compatibility (no effect)'))
      .addOption(new Option('--checksum', 'accepted for compatibility (checksums are always written)')),
  ).action(async (elements: string[], flags: BuildFlags) => runBuild(elements, flags));
}
