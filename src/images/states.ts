// Image statuses as Glance names them, and the moves between them.
import { StateMachine } from '../common/state-machine.js';

export type ImageStatus = 'queued' | 'saving' | 'active' | 'killed';
export type ImageEvent = 'upload' | 'upload_done' | 'upload_failed' | 'upload_interrupted';

export const imageStates = new StateMachine<ImageStatus, ImageEvent>({
  name: 'image',
  states: ['queued', 'saving', 'active', 'killed'],
  transient: ['saving'],
  transitions: [
    { from: 'queued', event: 'upload', to: 'saving' },
    { from: 'saving', event: 'upload_done', to: 'active' },
    { from: 'saving', event: 'upload_failed', to: 'killed' },
    // The server died mid-upload: the bytes are gone, the record may be uploaded again.
    { from: 'saving', event: 'upload_interrupted', to: 'queued' },
  ],
});

export const DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'] as const;
export const CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'] as const;
export const VISIBILITIES = ['public', 'private', 'shared', 'community'] as const;
export type Visibility = (typeof VISIBILITIES)[number];
