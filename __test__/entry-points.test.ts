import { execFileSync } from 'node:child_process';
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
