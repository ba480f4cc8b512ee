/**
 * Strict base64 for image fields. Node's decoder silently skips characters outside the alphabet, which would turn a
 * malformed request into a "valid" image of the wrong bytes; the proxy must instead forward the original and let the API
 * answer its own error. Rather than scanning the (often 100+ KB) text with a regular expression, decode once and check
 * that nothing was skipped: any skipped or stray character changes the decoded length.
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  const compact = text.includes('\n') || text.includes('\r') ? text.replace(/[\r\n]/g, '') : text;
  if (compact.length === 0 || compact.length % 4 !== 0) return undefined;
  // base64url's alphabet is decoded by Node too, but it is not what these APIs take.
  if (compact.includes('-') || compact.includes('_')) return undefined;
  const padding = compact.endsWith('==') ? 2 : compact.endsWith('=') ? 1 : 0;
  const bytes = Buffer.from(compact, 'base64');
  return bytes.length === (compact.length / 4) * 3 - padding ? bytes : undefined;
}
