import type { NativeOptions } from '../../binding';

/** The napi binding, loaded once for every module that opens a native socket. */
export const binding: typeof import('../../binding') = require('../../binding.js');

export type { NativeOptions };
export const registerScript: (source: string) => number = binding.registerScript;
export const describeTarget: (options: NativeOptions) => string = binding.describeTarget;
