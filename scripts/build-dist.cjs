#!/usr/bin/env node
/**
 * Builds dist/ (npm run build:ts; npm runs it as `prepare`, so also before `npm pack`):
 *
 *   dist/          ESM build of lib/ (tsc -p tsconfig.build.json): the repo's own CLI, tests,
 *                  `npm run demo`; its .d.ts files are the types of the `import` condition.
 *   dist/cjs/      CommonJS build of lib/ (tsc -p tsconfig.cjs.json) + a package.json saying
 *                  "type": "commonjs": what the published package runs, for `require` AND `import`.
 *   dist/esm/      index.js: an ES module that re-exports dist/cjs by name; index.d.ts.
 *
 * Why one implementation behind both conditions (Node's "ES module wrapper" approach to the
 * dual package hazard): the addon keeps per-process state that names JS classes
 * (binding.setClasses({ OpenSSLError }) / ({ SslSession }): sessions made in C++ are instances
 * of the registered class). Two full copies, one loaded by `import` and one by `require` in the
 * same process (an app and one of its dependencies), would re-register those classes, and one
 * copy's `instanceof SslSession` / `OpenSSLError` checks would fail on the other's objects.
 *
 * import.meta in the CommonJS build: lib/ is ESM source and may use import.meta.url (lib/native.ts
 * does, to find the package root). tsc refuses import.meta when emitting CommonJS (TS1343), so
 * the CJS build runs through the compiler API with one small transformer that rewrites exactly
 * import.meta.url / .dirname / .filename into their CommonJS equivalents
 * (require('node:url').pathToFileURL(__filename).href, __dirname, __filename) and drops TS1343
 * for those sites only; any other use of import.meta still fails the build.
 *
 * The export list of the wrapper is read from lib/index.ts with the TypeScript compiler (value
 * exports only), so it cannot drift; test/package.exports.test.ts checks that the ESM names equal
 * the CommonJS keys and that both give the very same classes.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist');

function tsc(project) {
  const bin = require.resolve('typescript/bin/tsc', { paths: [root] });
  // tsc reports on stdout: send it to stderr, so that `npm pack --json` (which runs this as
  // `prepare`) keeps a clean stdout.
  const result = spawnSync(process.execPath, [bin, '-p', project], { cwd: root, stdio: ['ignore', 2, 2] });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

/** Names of the value (not type-only) exports of lib/index.ts. */
function valueExports() {
  const ts = require('typescript');
  const parsed = parseConfig(ts, 'tsconfig.build.json');
  const entry = path.join(root, 'lib', 'index.ts');
  const program = ts.createProgram([entry], parsed.options);
  const checker = program.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(entry));
  const names = [];
  for (const symbol of checker.getExportsOfModule(moduleSymbol)) {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    const typeOnly = (symbol.declarations ?? []).some((d) => ts.isExportSpecifier(d) && (d.isTypeOnly || d.parent.parent.isTypeOnly));
    if (!typeOnly && target.flags & ts.SymbolFlags.Value) names.push(symbol.name);
  }
  if (names.length === 0) throw new Error('build-dist: lib/index.ts has no value exports?');
  return names.sort();
}

/** tsc -p tsconfig.cjs.json, with import.meta.{url,dirname,filename} rewritten for CommonJS. */
function tscCommonJS(project) {
  const ts = require('typescript');
  const parsed = parseConfig(ts, project);
  const program = ts.createProgram(parsed.fileNames, parsed.options);
  const rewritten = new Set(); // "file:pos" of each import.meta we rewrite
  const f = ts.factory;
  // import.meta.url becomes a module-level constant computed first thing, where `require` is
  // the module's own (a local `const require = createRequire(import.meta.url)` would shadow it).
  const urlConstant = '__importMetaUrl';
  const replacement = (name) => f.createIdentifier(name === 'dirname' ? '__dirname' : name === 'filename' ? '__filename' : urlConstant);
  const urlDeclaration = () =>
    // const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;
    f.createVariableStatement(
      undefined,
      f.createVariableDeclarationList(
        [
          f.createVariableDeclaration(
            urlConstant,
            undefined,
            undefined,
            f.createPropertyAccessExpression(
              f.createCallExpression(
                f.createPropertyAccessExpression(
                  f.createCallExpression(f.createIdentifier('require'), undefined, [f.createStringLiteral('node:url')]),
                  'pathToFileURL',
                ),
                undefined,
                [f.createIdentifier('__filename')],
              ),
              'href',
            ),
          ),
        ],
        ts.NodeFlags.Const,
      ),
    );
  const isImportMetaProperty = (node) =>
    ts.isPropertyAccessExpression(node) &&
    ts.isMetaProperty(node.expression) &&
    node.expression.keywordToken === ts.SyntaxKind.ImportKeyword &&
    ['url', 'dirname', 'filename'].includes(node.name.text);
  for (const sourceFile of program.getSourceFiles()) {
    if (sourceFile.isDeclarationFile) continue;
    const visit = (node) => {
      if (isImportMetaProperty(node)) rewritten.add(`${sourceFile.fileName}:${node.expression.getStart(sourceFile)}`);
      ts.forEachChild(node, visit);
    };
    visit(sourceFile);
  }
  const transformer = (context) => (sourceFile) => {
    let usesUrl = false;
    const visit = (node) => {
      if (!isImportMetaProperty(node)) return ts.visitEachChild(node, visit, context);
      if (node.name.text === 'url') usesUrl = true;
      return replacement(node.name.text);
    };
    const result = ts.visitNode(sourceFile, visit);
    if (!usesUrl) return result;
    return f.updateSourceFile(result, [urlDeclaration(), ...result.statements]);
  };
  const diagnostics = ts
    .getPreEmitDiagnostics(program)
    .concat(program.emit(undefined, undefined, undefined, false, { before: [transformer] }).diagnostics)
    .filter((d) => !(d.code === 1343 && d.file && rewritten.has(`${d.file.fileName}:${d.start}`)));
  if (diagnostics.length > 0) {
    const host = { getCanonicalFileName: (n) => n, getCurrentDirectory: () => root, getNewLine: () => '\n' };
    process.stderr.write(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
    process.exit(1);
  }
}

function parseConfig(ts, project) {
  return ts.getParsedCommandLineOfConfigFile(
    path.join(root, project),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
}

for (const dir of ['cjs', 'esm']) fs.rmSync(path.join(dist, dir), { recursive: true, force: true });
tsc('tsconfig.build.json');
tscCommonJS('tsconfig.cjs.json');

fs.writeFileSync(path.join(dist, 'cjs', 'package.json'), JSON.stringify({ type: 'commonjs' }, null, 2) + '\n');

const names = valueExports();
fs.mkdirSync(path.join(dist, 'esm'), { recursive: true });
fs.writeFileSync(
  path.join(dist, 'esm', 'index.js'),
  `// Generated by scripts/build-dist.cjs: the ES module entry re-exports the CommonJS build, so\n` +
    `// \`import\` and \`require\` share one implementation (one set of classes registered with the addon).\n` +
    `import cjs from '../cjs/index.js';\n\n` +
    `export const {\n${names.map((n) => `  ${n},`).join('\n')}\n} = cjs;\n`,
);
fs.writeFileSync(
  path.join(dist, 'esm', 'index.d.ts'),
  `// Generated by scripts/build-dist.cjs: the types of dist/esm/index.js (the ESM build's declarations).\n` +
    `export * from '../index.js';\n`,
);
console.error(`build-dist: dist/ (ESM), dist/cjs/ (CommonJS), dist/esm/index.js (${names.length} exports)`);
