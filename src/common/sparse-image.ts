// The sparse image transfer between the seed (src/boot/routes.ts, extent-map.ts) and the deploy
// agent (src/agents/deploy-agent/write-image.ts), defined once for both. The agent asks for it with a request header; a seed that knows it answers
// with the same header and a body of: the extent map (JSON, `x-extent-map-bytes` long), then the
// bytes of each data extent in map order. Everything outside the extents is zeros. A seed that
// does not know the header ignores it and sends the full image as before, so old seeds and old
// agents keep working with no new command parameter.

export const TRANSFER_HEADER = 'x-bootstack-transfer';
export const SPARSE = 'sparse';
/** Length in bytes of the JSON map at the start of a sparse body. */
export const MAP_BYTES_HEADER = 'x-extent-map-bytes';

export interface ExtentMap {
  /** The logical image size: what is written and what the checksum covers. */
  size: number;
  /** Data extents as [offset, length], ascending and disjoint; the rest of the image is zeros. */
  extents: Array<[number, number]>;
}

/** Checks a map received from the network; throws with what is wrong. */
export function validateExtentMap(m: unknown): ExtentMap {
  const map = m as ExtentMap;
  if (typeof m !== 'object' || m === null || !Number.isSafeInteger(map.size) || map.size < 0 || !Array.isArray(map.extents)) {
    throw new Error('the extent map is not {size, extents}');
  }
  let end = 0;
  for (const e of map.extents) {
    if (!Array.isArray(e) || e.length !== 2 || !Number.isSafeInteger(e[0]) || !Number.isSafeInteger(e[1]) || e[1] <= 0) {
      throw new Error(`the extent map has a malformed extent ${JSON.stringify(e)}`);
    }
    if (e[0] < end || e[0] + e[1] > map.size) throw new Error(`the extent map's extent [${e[0]}, ${e[1]}] overlaps another or ends past the image (${map.size} bytes)`);
    end = e[0] + e[1];
  }
  return map;
}

export function dataBytes(map: ExtentMap): number {
  return map.extents.reduce((s, [, l]) => s + l, 0);
}
