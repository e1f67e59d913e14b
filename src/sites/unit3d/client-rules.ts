/**
 * UNIT3D-Announce's refusals that look only at the client (../shared/sites/README.md A.3):
 * ports that are blocked (`src/store/blacklisted_port.rs`: privileged ports and those of other
 * P2P networks and proxies, which ISPs throttle or which point at something that is not a
 * BitTorrent client) and user agents that are too long or belong to a browser (a browser
 * fetching an announce URL is a leaked passkey being tested, not a client).
 */
import { identifyClient } from '../../bittorrent/client-id.js';

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

/**
 * The agent of a peer without a User-Agent (UDP, or a journal replay whose header is gone): the
 * client named from its peer_id, else its printable prefix. The rules hook and the writer both name
 * a client so, so a row written after a crash says what it said before.
 */
export function clientAgent(peerId: Buffer): string {
  const c = identifyClient(peerId);
  return (c === undefined ? printablePrefix(peerId) : `${c.name}/${c.version}`).slice(0, MAX_AGENT_LENGTH);
}

/** The peer_id's first 8 bytes with anything unprintable as '.', for messages and agents. */
export function printablePrefix(peerId: Buffer): string {
  let s = '';
  for (const b of peerId.subarray(0, 8)) s += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
  return s;
}
