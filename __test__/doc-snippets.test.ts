/**
 * Every `ts` block of README.md and docs/*.md compiles against the built package under `strict`,
 * `noUncheckedIndexedAccess` and `exactOptionalPropertyTypes`, so the docs cannot drift from the
 * API. A block's `import` lines stay at the top of its module and the rest becomes the body of an
 * async function (so `await` works as in the docs). The application-side names fragments take as
 * given (`User`, `req`, `db`, …) are declared in fixtures/doc-context.d.ts; anything else a block
 * needs comes from an HTML comment right above it: `<!-- snippet: declare const id: string; -->`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '..');

/**
 * What a block gets when it imports nothing from 'redis-layer' itself: every name the package
 * exports, as the Conventions section of docs/api.md imports them once for all its fragments.
 */
function packageImport(): string {
  const typings = fs.readFileSync(path.join(root, 'dist', 'index.d.ts'), 'utf8');
  const names = new Set<string>();
  for (const match of typings.matchAll(/export (?:type )?\{([^}]*)\}/g)) {
    for (const name of (match[1] ?? '').split(',')) {
      const exported = name
        .trim()
        .split(/\s+as\s+/)
        .pop()
        ?.replace(/^type\s+/, '');
      if (exported) names.add(exported);
    }
  }
  return `import { ${[...names].join(', ')} } from 'redis-layer';`;
}

interface Snippet {
  /** `docs/api.md:134`: where the block's first code line is. */
  where: string;
  file: string;
  firstLine: number;
  prelude: string;
  code: string[];
}

function snippetsOf(file: string): Snippet[] {
  const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n');
  const found: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== '```ts') continue;
    const end = lines.findIndex((line, j) => j > i && line.trim() === '```');
    if (end < 0) throw new Error(`${file}:${i + 1}: a ts block without its closing fence`);
    const above = lines[i - 1]?.trim() ?? '';
    const prelude = /^<!-- snippet: (.*) -->$/.exec(above)?.[1] ?? '';
    found.push({ where: `${file}:${i + 2}`, file, firstLine: i + 2, prelude, code: lines.slice(i + 1, end) });
    i = end;
  }
  return found;
}

/** The module for a snippet and, per module line, the doc line it came from (0: generated). */
function moduleOf(snippet: Snippet): { text: string; origin: number[] } {
  const imports: Array<[string, number]> = [];
  const body: Array<[string, number]> = [];
  let inImport = false;
  snippet.code.forEach((line, i) => {
    const docLine = snippet.firstLine + i;
    if (inImport || /^import\s/.test(line)) {
      imports.push([line, docLine]);
      inImport = !/from\s+['"][^'"]+['"];?\s*(\/\/.*)?$/.test(line) && !/^import\s+['"]/.test(line);
    } else {
      body.push([`  ${line}`, docLine]);
    }
  });
  const generated = (text: string): [string, number] => [text, 0];
  const ownImport = imports.some(([line]) => /from\s+['"]redis-layer['"]/.test(line));
  const all: Array<[string, number]> = [
    ...(ownImport ? [] : [generated(packageImport())]),
    ...imports,
    generated(snippet.prelude),
    generated('export async function snippet(): Promise<void> {'),
    ...body,
    generated('}'),
  ];
  return { text: all.map(([text]) => text).join('\n'), origin: all.map(([, line]) => line) };
}

/** `redis-layer/<subpath>` → its typings, from package.json's typesVersions (the one list of subpaths). */
function subpathTypings(): Record<string, string[]> {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    typesVersions: Record<string, Record<string, string[]>>;
  };
  return Object.fromEntries(
    Object.entries(pkg.typesVersions['*'] ?? {}).map(([subpath, targets]) => [
      `redis-layer/${subpath}`,
      targets.map((target) => path.join(root, target)),
    ]),
  );
}

const files = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).map((name) => `docs/${name}`)].filter((file) =>
  file.endsWith('.md'),
);
const snippets = files.flatMap(snippetsOf);

it('finds the ts blocks of the README and the docs', () => {
  expect(snippets.length).toBeGreaterThan(20);
  expect(new Set(snippets.map((s) => s.file))).toEqual(
    new Set(['README.md', 'docs/api.md', 'docs/operations.md', 'docs/recipes.md']),
  );
});

it('compiles every ts block under strict, noUncheckedIndexedAccess and exactOptionalPropertyTypes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-layer-snippets-'));
  try {
    const modules = snippets.map((snippet, i) => ({ snippet, name: `snippet-${i}.ts`, ...moduleOf(snippet) }));
    for (const module of modules) fs.writeFileSync(path.join(dir, module.name), module.text);
    const modulesDir = path.join(root, 'node_modules');
    fs.writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: true,
          noEmit: true,
          target: 'ES2022',
          module: 'commonjs',
          moduleResolution: 'node',
          esModuleInterop: true,
          skipLibCheck: true,
          types: ['node', 'jest'],
          typeRoots: [path.join(modulesDir, '@types')],
          baseUrl: dir,
          paths: {
            'redis-layer': [path.join(root, 'dist', 'index.d.ts')],
            ...subpathTypings(),
            '*': [path.join(modulesDir, '*'), path.join(modulesDir, '@types', '*')],
          },
        },
        files: [path.join(__dirname, 'fixtures', 'doc-context.d.ts'), ...modules.map((module) => module.name)],
      }),
    );
    let output = '';
    try {
      execFileSync(
        process.execPath,
        [path.join(modulesDir, 'typescript', 'bin', 'tsc'), '-p', dir, '--pretty', 'false'],
        {
          cwd: dir,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
    } catch (error) {
      output = String((error as { stdout?: string }).stdout ?? error);
    }
    // Each diagnostic, pointed at the doc line it comes from.
    const problems = output
      .split('\n')
      .filter((line) => /error TS\d+/.test(line))
      .map((line) => {
        const match = /^snippet-(\d+)\.ts\((\d+),(\d+)\): (.*)$/.exec(line);
        if (!match) return line;
        const module = modules[Number(match[1])];
        const docLine = module?.origin[Number(match[2]) - 1] ?? 0;
        const where = docLine > 0 ? `${module?.snippet.file}:${docLine}` : `${module?.snippet.where} (prelude)`;
        return `${where}: ${match[4]}`;
      });
    expect(problems).toEqual([]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
