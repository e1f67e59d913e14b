/**
 * Client identification from the peer_id prefix.
 * - Azureus style: '-' two letters, four version characters, '-' (e.g. "-qB4520-", "-TR3000-").
 * - Shad0w style: one letter, up to five version characters of [0-9A-Za-z.], then '-' padding (e.g. "S58B-----").
 * - Mainline style: one letter, digits separated by '-' (e.g. "M7-2-3--"); aria2 uses "A2-1-36-0-".
 */

export interface ClientId {
  /** The short code from the peer_id ("qB", "TR", "S", "A2"). */
  readonly code: string;
  /** Human name when known. */
  readonly name: string;
  readonly version: string;
  readonly style: 'azureus' | 'shadow' | 'mainline';
}

const AZUREUS_NAMES: Record<string, string> = {
  qB: 'qBittorrent', TR: 'Transmission', DE: 'Deluge', LT: 'libtorrent (Rasterbar)', lt: 'libTorrent (Rakshasa)',
  UT: 'µTorrent', UM: 'µTorrent Mac', UW: 'µTorrent Web', BT: 'BitTorrent', AZ: 'Vuze', BI: 'BiglyBT',
  KT: 'KTorrent', FD: 'Free Download Manager', WW: 'WebTorrent', WD: 'WebTorrent Desktop', BC: 'BitComet',
  PI: 'PicoTorrent', TX: 'Tixati', FL: 'Folx', RT: 'rTorrent', LW: 'LimeWire', XL: 'Xunlei', SD: 'Thunder',
};

const SHADOW_NAMES: Record<string, string> = {
  A: 'ABC', O: 'Osprey Permaseed', Q: 'BTQueue', R: 'Tribler', S: 'Shad0w', T: 'BitTornado', U: 'UPnP NAT Bit Torrent',
};

const MAINLINE_NAMES: Record<string, string> = { M: 'BitTorrent (Mainline)', A2: 'aria2', Q: 'Queen Bee' };

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

export function identifyClient(peerId: Buffer): ClientId | undefined {
  if (peerId.length < 8) return undefined;
  // Azureus: -XXVVVV-
  if (peerId[0] === 0x2d && peerId[7] === 0x2d && isAlnum(peerId[1]!) && isAlnum(peerId[2]!)) {
    const code = peerId.toString('latin1', 1, 3);
    const v = peerId.toString('latin1', 3, 7);
    return { code, name: AZUREUS_NAMES[code] ?? code, version: azureusVersion(v), style: 'azureus' };
  }
  // Mainline: letter(s) then digit groups separated by '-', e.g. "M7-2-3--" or "A2-1-36-0-".
  const mainline = /^([A-Z][A-Z0-9]?)-?(\d+)-(\d+)-(\d+)-/.exec(peerId.toString('latin1', 0, 12));
  if (mainline && (mainline[1] === 'A2' || mainline[1] === 'M' || mainline[1] === 'Q')) {
    const code = mainline[1]!;
    return { code, name: MAINLINE_NAMES[code] ?? code, version: `${mainline[2]}.${mainline[3]}.${mainline[4]}`, style: 'mainline' };
  }
  // Shad0w: letter, then version characters, then '-' padding before byte 6.
  const first = peerId[0]!;
  if (first >= 0x41 && first <= 0x5a) {
    let end = 1;
    while (end < 6 && (isAlnum(peerId[end]!) || peerId[end] === 0x2e)) end++;
    if (end > 1 && end <= 6 && peerId[end] === 0x2d && (end === 6 || peerId[end + 1] === 0x2d || end === 5)) {
      const code = String.fromCharCode(first);
      const version = [...peerId.toString('latin1', 1, end)].map(shadowDigit).join('.');
      return { code, name: SHADOW_NAMES[code] ?? code, version, style: 'shadow' };
    }
  }
  return undefined;
}

function azureusVersion(v: string): string {
  return [...v].join(".");
}

function shadowDigit(c: string): string {
  if (/[0-9]/.test(c)) return c;
  if (/[A-Z]/.test(c)) return String(c.charCodeAt(0) - 55);
  if (/[a-z]/.test(c)) return String(c.charCodeAt(0) - 61);
  return c;
}
