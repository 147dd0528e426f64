import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '..');

it('index.mjs exports exactly the names the CommonJS entry does, as the same objects (plus the module as default)', () => {
  const script = `
    import * as esm from ${JSON.stringify(path.join(root, 'index.mjs'))};
    import { createRequire } from 'node:module';
    const cjs = createRequire(import.meta.url)(${JSON.stringify(root)});
    const names = Object.keys(esm).filter((name) => name !== 'default');
    const same = names.filter((name) => esm[name] === cjs[name]);
    console.log(JSON.stringify({ esm: names.sort(), cjs: Object.keys(cjs).sort(), same: same.length, defaultIsCjs: esm.default === cjs }));
  `;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
  expect(out.esm).toEqual(out.cjs);
  expect(out.same).toBe(out.esm.length);
  expect(out.defaultIsCjs).toBe(true);
});

it('on a machine without a binary, names the platform it looked for, the ones shipped and how to build', () => {
  // The package as installed where neither the local .node file nor a platform package exists.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-layer-nobinary-'));
  try {
    fs.cpSync(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true });
    for (const file of ['package.json', 'binding.js']) fs.copyFileSync(path.join(root, file), path.join(dir, file));
    const script = `try { require(${JSON.stringify(dir)}); console.log('loaded'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, cause: Boolean(e.cause) })); }`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' }));
    expect(out.code).toBe('ERR_NATIVE_BINARY_NOT_FOUND');
    expect(out.cause).toBe(true);
    expect(out.message).toContain(`platform ${process.platform}, architecture ${process.arch}, libc gnu`);
    expect(out.message).toContain(`looked for ${process.platform}-${process.arch}-gnu`);
    expect(out.message).toContain('Prebuilt binaries: linux-x64-gnu');
    expect(out.message).toContain('`npm run build`');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
