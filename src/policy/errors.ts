/** Stable codes for policy failures; the caller logs them and keeps (or falls back to) a working policy. */
export type PolicyErrorCode =
  | 'MODEL_UNREADABLE' // file missing, not ONNX, or onnxruntime refuses it
  | 'METADATA_INVALID' // metadata_props missing or malformed
  | 'METADATA_MISMATCH' // well-formed, but not what this code provides (feature version/names, shapes, provider)
  | 'INFERENCE_FAILED';

export class PolicyError extends Error {
  readonly code: PolicyErrorCode;
  constructor(code: PolicyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PolicyError';
    this.code = code;
  }
}
