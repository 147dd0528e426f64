/**
 * What a release publishes: the main package's tarball (only what users run), one platform package
 * per napi target in step with it, and a loader in the tarball that picks the platform package
 * matching the machine it runs on (platform, architecture and, on Linux, glibc or musl).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
/** package.json's napi targets as napi-rs names them (its parser runs outside Jest, which cannot load its ESM). */
const targets: { platformArchABI: string; platform: string; arch: string; abi: string | null }[] = JSON.parse(
  execFileSync(
    process.execPath,
    ['-p', `JSON.stringify(${JSON.stringify(pkg.napi.targets)}.map(require('@napi-rs/cli').parseTriple))`],
    { cwd: root, encoding: 'utf8' },
  ),
);

interface PackedFile {
  path: string;
  size: number;
}
let packed: { size: number; unpackedSize: number; files: PackedFile[] };
let work: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-layer-release-'));
  const output = execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // prepack's tsc may print before npm's JSON report, which starts on a line of its own.
  packed = JSON.parse(output.slice(output.search(/^\[$/m)))[0];
  const installed = path.join(work, 'node_modules', 'redis-layer');
  fs.mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['xzf', path.join(work, fs.readdirSync(work).find((file) => file.endsWith('.tgz')) as string)], {
    cwd: installed,
  });
  fs.cpSync(path.join(installed, 'package'), installed, { recursive: true });
  fs.rmSync(path.join(installed, 'package'), { recursive: true });
}, 120_000);

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

describe('the main package tarball', () => {
  it('holds only what users run: compiled JavaScript, typings, the loader, the ESM wrapper, README', () => {
    const allowed = [
      /^package\.json$/,
      /^README\.md$/,
      /^LICENSE$/,
      /^CHANGELOG\.md$/,
      /^index\.mjs$/,
      /^binding\.(js|d\.ts)$/,
      /^dist\/.+\.(js|d\.ts)$/,
    ];
    const unexpected = packed.files.map((file) => file.path).filter((file) => !allowed.some((re) => re.test(file)));
    expect(unexpected).toEqual([]);
    for (const file of ['dist/index.js', 'dist/index.d.ts', 'binding.js', 'index.mjs']) {
      expect(packed.files.map((entry) => entry.path)).toContain(file);
    }
  });

  it('carries no binary, test, benchmark, doc or source tree, and stays small', () => {
    const paths = packed.files.map((file) => file.path);
    expect(paths.filter((file) => /\.node$|^(__test__|bench|docs|src|core|ts|scripts|npm|demo)\//.test(file))).toEqual(
      [],
    );
    // The binaries ship in the platform packages; the main tarball is JavaScript and typings only.
    expect(packed.size).toBeLessThan(512 * 1024);
  });
});

describe('the platform packages', () => {
  it('exist for every napi target and no other, each named, versioned and constrained like its target', () => {
    const dirs = fs.readdirSync(path.join(root, 'npm')).sort();
    expect(dirs).toEqual(targets.map((target) => target.platformArchABI).sort());
    for (const target of targets) {
      const manifest = JSON.parse(
        fs.readFileSync(path.join(root, 'npm', target.platformArchABI, 'package.json'), 'utf8'),
      );
      const binary = `${pkg.napi.binaryName}.${target.platformArchABI}.node`;
      expect(manifest).toMatchObject({
        name: `redis-layer-${target.platformArchABI}`,
        version: pkg.version,
        os: [target.platform],
        cpu: [target.arch],
        main: binary,
        files: [binary],
      });
      if (target.platform === 'linux') expect(manifest.libc).toEqual([target.abi === 'musl' ? 'musl' : 'glibc']);
      else expect(manifest.libc).toBeUndefined();
    }
  });

  it('are kept in step with the main version by `npm version` (napi version)', () => {
    expect(pkg.scripts.version).toMatch(/napi version/);
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-layer-version-'));
    try {
      fs.cpSync(path.join(root, 'npm'), path.join(copy, 'npm'), {
        recursive: true,
        filter: (source) => !source.endsWith('.node'),
      });
      fs.writeFileSync(path.join(copy, 'package.json'), JSON.stringify({ ...pkg, version: '9.8.7' }));
      execFileSync(
        process.execPath,
        [path.join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js'), 'version'],
        {
          cwd: copy,
          stdio: 'pipe',
        },
      );
      for (const target of targets) {
        const manifest = JSON.parse(
          fs.readFileSync(path.join(copy, 'npm', target.platformArchABI, 'package.json'), 'utf8'),
        );
        expect(`${target.platformArchABI}@${manifest.version}`).toBe(`${target.platformArchABI}@9.8.7`);
      }
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe("the packed loader's platform choice", () => {
  /**
   * Runs the packed binding.js in a Node that reports `platform`/`arch` and, on Linux, glibc or
   * musl the ways the loader probes it, with a stand-in for every platform package installed.
   * Returns the platform package it loaded.
   */
  function choose(platform: string, arch: string, libc: 'gnu' | 'musl' | null): string {
    const app = fs.mkdtempSync(path.join(work, 'app-'));
    const modules = path.join(app, 'node_modules');
    fs.cpSync(path.join(work, 'node_modules', 'redis-layer'), path.join(modules, 'redis-layer'), { recursive: true });
    for (const target of targets) {
      const name = `redis-layer-${target.platformArchABI}`;
      fs.mkdirSync(path.join(modules, name), { recursive: true });
      fs.writeFileSync(
        path.join(modules, name, 'package.json'),
        JSON.stringify({ name, version: pkg.version, main: 'stand-in.js' }),
      );
      fs.writeFileSync(
        path.join(modules, name, 'stand-in.js'),
        `module.exports = { chosen: ${JSON.stringify(name)} };`,
      );
    }
    const pretend = path.join(app, 'pretend.js');
    fs.writeFileSync(
      pretend,
      `Object.defineProperty(process, 'platform', { value: ${JSON.stringify(platform)} });
Object.defineProperty(process, 'arch', { value: ${JSON.stringify(arch)} });
const libc = ${JSON.stringify(libc)};
const fs = require('fs');
const readFileSync = fs.readFileSync;
fs.readFileSync = function (file, ...rest) {
  if (file === '/usr/bin/ldd') return libc === 'musl' ? '#!/bin/sh\\nexec /lib/ld-musl-x86_64.so.1 --list' : 'GNU C Library';
  return readFileSync.call(this, file, ...rest);
};
process.report.getReport = () => ({ header: libc === 'gnu' ? { glibcVersionRuntime: '2.36' } : {}, sharedObjects: [] });
`,
    );
    const loader = path.join(modules, 'redis-layer', 'binding.js');
    const output = execFileSync(
      process.execPath,
      ['-r', pretend, '-e', `console.log(require(${JSON.stringify(loader)}).chosen)`],
      { cwd: app, encoding: 'utf8', env: { ...process.env, NAPI_RS_NATIVE_LIBRARY_PATH: '' } },
    );
    return output.trim();
  }

  it.each(targets.map((target) => [target.platformArchABI, target] as const))(
    'loads redis-layer-%s on that platform',
    (name, target) => {
      const libc = target.platform === 'linux' ? (target.abi === 'musl' ? 'musl' : 'gnu') : null;
      expect(choose(target.platform, target.arch, libc)).toBe(`redis-layer-${name}`);
    },
  );
});
