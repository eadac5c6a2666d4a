// Where a devtest run keeps its files: one directory (default ./.devtest, or
// $BOOTSTACK_DEVTEST_DIR). Images are not here but in the image cache (~/.cache/bootstack), which
// `devtest clean` keeps; <dir>/images only links to them.
import { join, resolve } from 'node:path';
import { STATE_FILE } from './state.js';

export function defaultDevtestDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.BOOTSTACK_DEVTEST_DIR || '.devtest');
}

export class DevtestLayout {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  private at(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  get state(): string {
    return this.at(STATE_FILE);
  }
  /** The virtual lab (`bootstack lab --dir`). */
  get lab(): string {
    return this.at('lab');
  }
  /** Links to the cached images: deploy.kernel, deploy.initramfs, sample.qcow2, bootstack-undercloud.qcow2. */
  get images(): string {
    return this.at('images');
  }
  get seedDir(): string {
    return this.at('seed');
  }
  get seedConfig(): string {
    return this.at('seed', 'bootstack.yaml');
  }
  get seedState(): string {
    return this.at('seed', 'state');
  }
  get seedPid(): string {
    return this.at('seed', 'serve.pid');
  }
  /** The seed's stdout ("serving on <url>"). */
  get seedOut(): string {
    return this.at('seed', 'serve.out');
  }
  get seedLog(): string {
    return this.at('seed', 'serve.log');
  }
  /** SSH key pair `devtest` on the clouds; root on every machine accepts it. */
  get key(): string {
    return this.at('id_ed25519');
  }
  get clouds(): string {
    return this.at('clouds.yaml');
  }
  /** Given to the pivot as its state directory. */
  get pivot(): string {
    return this.at('pivot');
  }

  /** Everything devtest makes directly in its directory (`clean` removes these, then the directory if empty). */
  made(): string[] {
    return [this.state, this.lab, this.images, this.seedDir, this.key, `${this.key}.pub`, this.clouds, this.pivot];
  }
}
