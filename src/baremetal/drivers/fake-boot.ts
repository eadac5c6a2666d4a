// Fake boot: nothing to prepare. The real one (dnsmasq + iPXE) comes with the boot/deploy work.
import type { BootInterface } from './interfaces.js';

export class FakeBoot implements BootInterface {
  readonly name = 'fake';
  validate(): void {}
  async prepareRamdisk(): Promise<void> {}
  async cleanUpRamdisk(): Promise<void> {}
  async prepareInstance(): Promise<void> {}
  async cleanUpInstance(): Promise<void> {}
}
