/**
 * The counts Ocelot's report shows that privtrak's own metrics do not already hold: refusals by
 * Ocelot's `ocelot_error{kind}` (secret, report, announce, client) and the control calls. Plain
 * numbers, bumped on the announce path and by the control channel, read by report.ts.
 */
export class GazelleStats {
  readonly startMs = Date.now();
  /** `/update` with a wrong secret. */
  secretErrors = 0;
  /** `/report` with a wrong report password. */
  reportErrors = 0;
  /** Announces and scrapes with an unknown or missing passkey. */
  announceKeyErrors = 0;
  /** Announces refused for the client (not whitelisted) or the user (leeching forbidden). */
  clientErrors = 0;
  /** Announces refused for an unregistered torrent. */
  torrentErrors = 0;
  /** Announces and scrapes the rules let through. */
  announcesPassed = 0;
  scrapesPassed = 0;
  /** `/update` calls applied. */
  updates = 0;
}
