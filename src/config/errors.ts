/** A configuration error names the key (as a dotted path) and says why it is wrong. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly key: string;
  constructor(key: string, reason: string) {
    super(`config: ${key}: ${reason}`);
    this.name = 'ConfigError';
    this.key = key;
  }
}
