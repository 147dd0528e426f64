import type { NativeOptions } from '../../binding';
import { RedisLayerError } from './errors';

/** The napi binding, loaded once for every module that opens a native socket. */
export const binding: typeof import('../../binding') = loadBinding();

export type { NativeOptions };
export const registerScript: (source: string) => number = binding.registerScript;
export const describeTarget: (options: NativeOptions) => string = binding.describeTarget;

/** The napi loader, or an error that says which binary was looked for and what to do instead. */
function loadBinding(): typeof import('../../binding') {
  try {
    return require('../../binding.js');
  } catch (error) {
    throw Object.assign(new RedisLayerError('ERR_NATIVE_BINARY_NOT_FOUND', missingBinaryMessage()), { cause: error });
  }
}

/** `linux-x64-gnu`-style names of the binaries this release ships, from package.json's napi targets. */
export function supportedPlatforms(): string[] {
  const names: Record<string, string> = {
    'x86_64-unknown-linux-gnu': 'linux-x64-gnu',
    'x86_64-unknown-linux-musl': 'linux-x64-musl',
    'aarch64-unknown-linux-gnu': 'linux-arm64-gnu',
    'aarch64-unknown-linux-musl': 'linux-arm64-musl',
    'aarch64-apple-darwin': 'darwin-arm64',
    'x86_64-apple-darwin': 'darwin-x64',
    'x86_64-pc-windows-msvc': 'win32-x64-msvc',
  };
  const { napi } = require('../../package.json') as { napi: { targets: string[] } };
  return napi.targets.map((target) => names[target] ?? target);
}

/** The C library of this Linux process: glibc if Node reports its version, else musl. */
function libc(): string {
  if (process.platform !== 'linux') return process.platform === 'win32' ? 'msvc' : 'system';
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime ? 'gnu' : 'musl';
}

function missingBinaryMessage(): string {
  const wanted = [process.platform, process.arch, ...(process.platform === 'linux' ? [libc()] : [])].join('-');
  return (
    `redis-layer has no native binary for this machine: platform ${process.platform}, architecture ${process.arch}, ` +
    `libc ${libc()} (looked for ${wanted}). Prebuilt binaries: ${supportedPlatforms().join(', ')}. ` +
    'Elsewhere, build it from source: install Rust (https://rustup.rs) and run `npm run build` in the redis-layer ' +
    'package directory.'
  );
}
