/**
 * The reasons Gazelle gives when it deletes a torrent (`delete_torrent&reason=N`), as clients
 * are told on their next announce: "Unregistered torrent: Dupe". The codes are Gazelle's (Ocelot
 * keeps the same list in the same order); an unknown code reads as no reason.
 */
const REASONS: readonly string[] = [
  'Dupe', 'Trump', 'Bad File Names', 'Bad Folder Names', 'Bad Tags', 'Disallowed Format', 'Discs Missing',
  'Discography', 'Edited Log', 'Inaccurate Bitrate', 'Low Bitrate', 'Mutt Rip', 'Disallowed Source',
  'Encode Errors', 'Specifically Banned', 'Tracks Missing', 'Transcode', 'Unapproved Cassette',
  'Unsplit Album', 'User Compilation', 'Wrong Format', 'Wrong Media', 'Audience Recording',
];

/** The text of a reason code, '' when there is none (-1) or the code is unknown. */
export function deleteReasonText(code: number): string {
  return REASONS[code] ?? '';
}
