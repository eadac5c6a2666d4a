// The error os-apply-config reports and exits 1 on (the original's ConfigException).
export class ConfigError extends Error {}
