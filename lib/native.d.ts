import type { NativeOptions } from '../binding';
/** The napi binding, loaded once for every module that opens a native socket. */
export declare const binding: typeof import('../binding');
export type { NativeOptions };
export declare const registerScript: (source: string) => number;
export declare const describeTarget: (options: NativeOptions) => string;
