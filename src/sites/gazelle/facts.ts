/**
 * What the Gazelle writer (writer.ts) needs to know about the site's state when it writes a
 * batch, provided by the state the rules hook keeps (state.ts): one small interface, so the
 * writer depends on facts, not on how they are loaded or pushed by `/update`.
 */
export interface GazelleFacts {
  /** Whether the user holds an active freeleech token on the torrent (its download goes to users_freeleeches.Downloaded). */
  hasToken(userId: number, torrentId: number): boolean;
  /** Ocelot's "protected" user (Visible = '0' or IP = '127.0.0.1'): the peer's IP is not written to the site's tables. */
  isProtected(userId: number): boolean;
}
