export { configureSharp } from './config.ts';
export type { PassReason, RecompressOutcome, WorkStop } from './encode.ts';
export { encodeJpeg, recompress } from './encode.ts';
export type { CodecErrorCode } from './errors.ts';
export { CodecError } from './errors.ts';
export { countJpegScans, inspectImage, SCAN_LIMITS } from './inspect.ts';
export { estimateJpegQuality, parseQuantTables, qualityFromTables } from './jpeg-quality.ts';
export type { CodecLimits, EncodeAction, EncodeResult, InspectedImage } from './types.ts';
