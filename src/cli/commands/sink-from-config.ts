/** Finds the privtrak hook in a config and builds its sink, for the operator commands. */
import type { Config } from '../../config/schema.js';
import { ConfigError } from '../../config/errors.js';
import { parseHookOptions } from '../../middleware/options.js';
import { privtrakOptionsSchema, type PrivtrakOptions } from '../../middleware/privtrak/options.js';
import { createSink } from '../../sinks/index.js';
import type { DeltaSink } from '../../sinks/sink.js';

/** The privtrak hook's options in a config (validated), or a ConfigError saying there is none. */
export function privtrakOptionsFromConfig(config: Config): PrivtrakOptions {
  const index = config.prehooks.findIndex((h) => h.name === 'privtrak');
  if (index < 0) throw new ConfigError('prehooks', 'no privtrak hook is configured, so there is no sink or journal to work on');
  return parseHookOptions(privtrakOptionsSchema, config.prehooks[index]!.options, `prehooks.${index}`);
}

export function sinkFromConfig(config: Config): DeltaSink {
  return createSink(privtrakOptionsFromConfig(config).sink);
}
