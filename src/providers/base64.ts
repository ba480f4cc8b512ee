/**
 * Strict base64 for image fields. Node's decoder silently skips garbage, which would turn a malformed request into a
 * "valid" image of the wrong bytes; the proxy must instead forward the original and let the API answer its own error.
 */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function decodeBase64Strict(text: string): Buffer | undefined {
  const compact = text.replace(/[\r\n]/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !BASE64.test(compact)) return undefined;
  return Buffer.from(compact, 'base64');
}
