// What the bare-metal API never shows: the one masking rule for node fields (driver_info,
// instance_info, driver_internal_info) and for the text that may quote them (last_error, history
// events, validate reasons). As Ironic, secrets are masked for every caller, admins included:
// the API is for looking at nodes, the database is where the values live.

export const MASK = '******';

/**
 * Keys whose values are secret wherever they appear, at any depth: passwords (`ipmi_password`,
 * `ipmi_passwd`, `passphrase`), secrets, tokens, credentials, keys (`ssh_private_key`,
 * `temp_url_key`), the config drive (user data, SSH keys) and `image_url` (it may be a signed
 * temporary URL). `key$` also masks public keys: harmless.
 */
const SECRET_KEY = /passw(or)?d|passphrase|secret|token|credential|key$|^authorization$|configdrive|^image_url$/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** `scheme://user:password@host` → `scheme://user:******@host` (the last @ before the path ends the userinfo). */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*):[^\s/]*@/gi;
/** `name=value` in a query string or text, when the name is a secret's (`temp_url_sig`, `token`). */
const SECRET_PARAM = /([A-Za-z0-9_.-]+)=([^&\s"']+)/g;

/** Masks the passwords of URLs and secret `name=value` pairs inside free text. */
export function maskSecretText(text: string): string {
  return text
    .replace(URL_PASSWORD, `$1:${MASK}@`)
    .replace(SECRET_PARAM, (all: string, name: string) => (isSecretKey(name) || /sig(nature)?$/i.test(name) ? `${name}=${MASK}` : all));
}

/** A copy of a JSON value with secret keys masked (empty values stay, they tell "not set") and secrets in strings masked. */
export function maskSecrets<T>(value: T): T {
  if (typeof value === 'string') return maskSecretText(value) as T;
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = isSecretKey(k) && v !== null && v !== undefined && v !== '' ? MASK : maskSecrets(v);
    }
    return out as T;
  }
  return value;
}
