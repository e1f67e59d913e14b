/** Finds the privtrak hook in a config and builds its sink, for the operator commands. */
import type { Config } from '../../config/schema.js';
import { ConfigError } from '../../config/errors.js';
import { parseHookOptions } from '../../middleware/options.js';
import { privtrakOptionsSchema } from '../../middleware/privtrak/options.js';
import { createSink } from '../../sinks/index.js';
import type { DeltaSink } from '../../sinks/sink.js';

export function sinkFromConfig(config: Config): DeltaSink {
  const index = config.prehooks.findIndex((h) => h.name === 'privtrak');
  if (index < 0) throw new ConfigError('prehooks', 'no privtrak hook is configured, so there is no sink to read');
  const opts = parseHookOptions(privtrakOptionsSchema, config.prehooks[index]!.options, `prehooks.${index}`);
  return createSink(opts.sink);
}
