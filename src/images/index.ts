// The image service (Glance v2 subset under /image), and the small in-process API the other
// services use to reach an image's bytes (the baremetal service, through an adapter in server/).
import { join } from 'node:path';
import type { ApiService, ServiceContext } from '../common/service.js';
import { InvalidStateError, NotFoundError } from '../common/errors.js';
import type { ImagesConfig } from './config.js';
import { imagesMigrations } from './migrations.js';
import { ImageStore } from './store.js';
import { FilesystemStore } from './file-store.js';
import { ImagesService, imagesPolicy, type ImageViewer } from './images.js';
import type { Image } from './store.js';
import { ImageMembers } from './members.js';
import { registerImageRoutes } from './routes.js';
import { imageStates } from './states.js';

export { imagesConfigSchema, type ImagesConfig } from './config.js';
export { ImageStore, type Image } from './store.js';
export { FilesystemStore } from './file-store.js';
export { ImagesService, imagesPolicy, visibleTo, type ImageViewer } from './images.js';

/** What another service may learn about an active image without going through HTTP. */
export interface ImageFileInfo {
  id: string;
  name: string | null;
  path: string;
  size: number;
  checksum: string;
  os_hash_algo: string;
  os_hash_value: string;
  disk_format: string | null;
  container_format: string | null;
}

/** Read-only access to image files by id (no policy: the caller has already authorised). */
export class ImageFiles {
  constructor(
    private readonly store: ImageStore,
    private readonly files: FilesystemStore,
  ) {}

  async get(id: string): Promise<ImageFileInfo> {
    const image = await this.store.get(id);
    if (!image) throw new NotFoundError('Image', id);
    if (image.status !== 'active') throw new InvalidStateError('image', image.status, 'read data', []);
    return {
      id: image.id,
      name: image.name,
      path: this.files.path(id),
      size: image.size ?? 0,
      checksum: image.checksum ?? '',
      os_hash_algo: image.os_hash_algo ?? '',
      os_hash_value: image.os_hash_value ?? '',
      disk_format: image.disk_format,
      container_format: image.container_format,
    };
  }
}

export interface ImagesApiService extends ApiService {
  images: ImagesService;
  files: ImageFiles;
  store: ImageStore;
  /** Where the bytes are (a pivot moves them file by file). */
  fileStore: FilesystemStore;
  /**
   * The image `ref` (id or name) names for `project`, under Glance's visibility rules: an
   * invisible id is 404 like a missing one; a name must match exactly one active image the
   * project's image list would show (404 none, 409 several). See ImagesService.resolveForProject.
   */
  resolveForProject(ref: string, project: ImageViewer): Promise<Image>;
}

export function createImagesService(ctx: ServiceContext, config: ImagesConfig): ImagesApiService {
  const store = new ImageStore(ctx.db);
  const fileStore = new FilesystemStore(config.store_dir ?? join(ctx.stateDir, 'images'));
  const images = new ImagesService(store, fileStore, ctx.policy, config.image_size_cap);
  return {
    name: 'images',
    prefix: '/image',
    faultStyle: 'glance',
    catalog: { type: 'image', name: 'glance', prefix: '/image' },
    migrations: imagesMigrations,
    policy: imagesPolicy,
    images,
    store,
    files: new ImageFiles(store, fileStore),
    fileStore,
    resolveForProject: (ref, project) => images.resolveForProject(ref, project),
    routes(app) {
      registerImageRoutes(app, images, new ImageMembers(images, store, ctx.policy), () => `${ctx.publicUrl()}/image`);
    },
    async init() {
      // Nothing is uploading yet: uploads cut short by a crash go back to queued, and their
      // partial bytes (and any file without an active record) are removed.
      const reset = await store.resetSaving(imageStates.next('saving', 'upload_interrupted'));
      const removed = await fileStore.sweep(await store.activeIds());
      if (reset.length || removed.length) ctx.log.warn({ reset, removed }, 'cleaned up interrupted image uploads');
    },
  };
}
