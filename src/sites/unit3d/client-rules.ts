/**
 * UNIT3D-Announce's refusals that look only at the client (../shared/sites/README.md A.3):
 * ports that are blocked (`src/store/blacklisted_port.rs`: privileged ports and those of other
 * P2P networks and proxies, which ISPs throttle or which point at something that is not a
 * BitTorrent client) and user agents that are too long or belong to a browser (a browser
 * fetching an announce URL is a leaked passkey being tested, not a client).
 */

const BLOCKED_PORTS = new Set([1214, 3389, 4662, 6346, 6347, 6699, 8080, 8081]);

export function isBlockedPort(port: number): boolean {
  return port <= 1023 || BLOCKED_PORTS.has(port);
}

/** Longest user agent accepted: UNIT3D's `peers.agent` and `history.agent` are varchar(64). */
export const MAX_AGENT_LENGTH = 64;

const BROWSER_MARKS = ['mozilla', 'browser', 'chrome', 'safari', 'applewebkit', 'opera', 'links', 'lynx'];

/** Why an agent is refused, or undefined if it is acceptable. */
export function agentProblem(agent: string): string | undefined {
  if (agent.length > MAX_AGENT_LENGTH) return `user agent too long (at most ${MAX_AGENT_LENGTH} characters)`;
  const lower = agent.toLowerCase();
  for (const mark of BROWSER_MARKS) if (lower.includes(mark)) return 'browsers are not allowed to announce: use a BitTorrent client';
  return undefined;
}
