/**
 * What the UNIT3D writer (writer.ts) needs to know about the site's state when it writes a
 * batch, provided by the site state the rules hook keeps (state.ts). One small interface, so
 * the writer depends on facts, not on how they are loaded or pushed.
 */
export interface Unit3dFacts {
  /** `history.immune` for a user: the group's is_immune, with the donor overrides applied. */
  immune(userId: number): boolean;
}
