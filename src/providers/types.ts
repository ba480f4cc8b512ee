import type { Answer } from '../answer.ts';

export type ProviderName = 'rekognition' | 'facepp' | 'baidu';
export const providerNames: readonly ProviderName[] = ['rekognition', 'facepp', 'baidu'];
