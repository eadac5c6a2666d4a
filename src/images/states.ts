// Image statuses as Glance names them, and the moves between them.
import { StateMachine } from '../common/state-machine.js';

export type ImageStatus = 'queued' | 'saving' | 'active' | 'killed' | 'deactivated';
export type ImageEvent = 'upload' | 'upload_done' | 'upload_failed' | 'upload_interrupted' | 'deactivate' | 'reactivate';

export const imageStates = new StateMachine<ImageStatus, ImageEvent>({
  name: 'image',
  states: ['queued', 'saving', 'active', 'killed', 'deactivated'],
  transient: ['saving'],
  transitions: [
    { from: 'queued', event: 'upload', to: 'saving' },
    { from: 'saving', event: 'upload_done', to: 'active' },
    { from: 'saving', event: 'upload_failed', to: 'killed' },
    // The server died mid-upload: the bytes are gone, the record may be uploaded again.
    { from: 'saving', event: 'upload_interrupted', to: 'queued' },
    // An admin withdraws an image's data from non-admins (and puts it back); the bytes stay.
    { from: 'active', event: 'deactivate', to: 'deactivated' },
    { from: 'deactivated', event: 'reactivate', to: 'active' },
  ],
});

export const DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'] as const;
export const CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'] as const;
/** An image member's answer to a share (Glance's member statuses). */
export const MEMBER_STATUSES = ['pending', 'accepted', 'rejected'] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];

export const VISIBILITIES = ['public', 'private', 'shared', 'community'] as const;
export type Visibility = (typeof VISIBILITIES)[number];
