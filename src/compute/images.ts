// The one images call compute needs: an imageRef (id, or a name) resolved as the project sees
// it, as Nova asks Glance with the user's token. src/server implements it over the image service.

export interface ComputeImage {
  id: string;
  name: string | null;
  status: string;
  minDisk: number;
  minRam: number;
}

export interface ComputeImages {
  /** 404 for an invisible or missing image, 409 for a name several images share. */
  resolve(ref: string, project: { projectId: string; admin: boolean }): Promise<ComputeImage>;
}
