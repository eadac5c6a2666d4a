// "no-inspect": the hardware type has no inspection; asking for it fails with a clear reason.
import { BadRequestError } from '../../common/errors.js';
import type { InspectInterface, InspectResult } from './interfaces.js';

export class NoInspect implements InspectInterface {
  readonly name = 'no-inspect';
  validate(): void {}
  async inspect(): Promise<InspectResult> {
    throw new BadRequestError('inspection is not supported by inspect interface "no-inspect"');
  }
}
