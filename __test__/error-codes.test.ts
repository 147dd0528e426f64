/**
 * `RedisLayerError.code` is typed as the union of ERROR_CODES, so that list must hold every code
 * the Rust and TypeScript sides raise, and docs/api.md must say what each means.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ERROR_CODES, RedisLayerError } from '..';
import { fromNative } from '../dist/lib/errors';

const root = path.resolve(__dirname, '..');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.(rs|ts)$/.test(entry.name) ? [full] : [];
  });
}

it('lists every code the sources raise', () => {
  const raised = new Set<string>();
  for (const dir of ['src', 'core/src', 'ts/lib']) {
    for (const file of sourceFiles(path.join(root, dir))) {
      for (const match of fs.readFileSync(file, 'utf8').matchAll(/\bERR_[A-Z_]+\b/g)) raised.add(match[0]);
    }
  }
  expect(raised.size).toBeGreaterThan(10);
  expect([...raised].filter((code) => !(ERROR_CODES as readonly string[]).includes(code))).toEqual([]);
});

it('has a row in the docs/api.md error table for each code', () => {
  const api = fs.readFileSync(path.join(root, 'docs', 'api.md'), 'utf8');
  expect(ERROR_CODES.filter((code) => !api.includes(`| \`${code}\` |`))).toEqual([]);
});

it('reports a code from the native side that is not in the list as ERR_INTERNAL, keeping the message', () => {
  const error = fromNative({ code: 'ERR_SOMETHING_NEW', message: 'boom' });
  expect(error).toBeInstanceOf(RedisLayerError);
  expect(error).toMatchObject({ code: 'ERR_INTERNAL', message: 'boom' });
  expect(fromNative({ code: 'ERR_TIMEOUT', message: 'slow' })).toMatchObject({ code: 'ERR_TIMEOUT' });
});
