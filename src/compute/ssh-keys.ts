// SSH key pairs as Nova handles them: a generated key is RSA 2048 (private key returned once as
// PEM, never stored); an imported public key must parse as an OpenSSH public key; the
// fingerprint is the colon-separated MD5 of the key blob (what Nova shows).
import { createHash, createPublicKey, generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import { BadRequestError } from '../common/errors.js';

const KNOWN_TYPES = new Set(['ssh-rsa', 'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com']);

function sshString(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

function mpint(b: Buffer): Buffer {
  let v = b;
  while (v.length > 1 && v[0] === 0) v = v.subarray(1);
  if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return sshString(v);
}

export function fingerprint(blob: Buffer): string {
  return createHash('md5').update(blob).digest('hex').match(/../g)!.join(':');
}

export interface GeneratedKey {
  publicKey: string;
  privateKey: string;
  fingerprint: string;
}

/** RSA 2048, generated on libuv's thread pool: the synchronous call holds the event loop for 50-200 ms. */
export async function generateRsaKey(comment: string): Promise<GeneratedKey> {
  const { publicKey, privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  const blob = Buffer.concat([sshString(Buffer.from('ssh-rsa')), mpint(Buffer.from(jwk.e!, 'base64url')), mpint(Buffer.from(jwk.n!, 'base64url'))]);
  return {
    publicKey: `ssh-rsa ${blob.toString('base64')} ${comment}`,
    privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    fingerprint: fingerprint(blob),
  };
}

/**
 * Validates an OpenSSH public key line ("type base64 [comment]"): the blob must decode, name the
 * same type, and for RSA/ed25519 make a key Node's crypto accepts. Returns the fingerprint.
 */
export function checkPublicKey(line: string, field: string): { fingerprint: string; normalized: string } {
  const parts = line.trim().split(/\s+/);
  const [type, data] = parts;
  const bad = (why: string) => new BadRequestError(`Keypair data is invalid: ${why} (${field}).`);
  if (!type || !data) throw bad('expected "<type> <base64 key> [comment]"');
  if (!KNOWN_TYPES.has(type)) throw bad(`unsupported key type ${type}`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data)) throw bad('the key is not base64');
  const blob = Buffer.from(data, 'base64');
  const read = (off: number): [Buffer, number] => {
    if (off + 4 > blob.length) throw bad('the key is truncated');
    const len = blob.readUInt32BE(off);
    if (off + 4 + len > blob.length) throw bad('the key is truncated');
    return [blob.subarray(off + 4, off + 4 + len), off + 4 + len];
  };
  const [inner, afterType] = read(0);
  if (inner.toString() !== type) throw bad(`the key says ${inner.toString().slice(0, 40)}, not ${type}`);
  try {
    if (type === 'ssh-rsa') {
      const [e, o1] = read(afterType);
      const [n] = read(o1);
      createPublicKey({ key: { kty: 'RSA', e: e.toString('base64url'), n: n.toString('base64url') }, format: 'jwk' });
    } else if (type === 'ssh-ed25519') {
      const [pub] = read(afterType);
      if (pub.length !== 32) throw bad('an ed25519 key is 32 bytes');
      createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: pub.toString('base64url') }, format: 'jwk' });
    } else {
      read(afterType);
    }
  } catch (err) {
    if (err instanceof BadRequestError) throw err;
    throw bad((err as Error).message);
  }
  return { fingerprint: fingerprint(blob), normalized: parts.slice(0, 3).join(' ') };
}
