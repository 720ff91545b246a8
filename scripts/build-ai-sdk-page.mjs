#!/usr/bin/env node
// Bundles the AI SDK page (src/ai-sdk/page/app.tsx: React, @ai-sdk/react, ai) into
// dist/ai-sdk/page-app.js, which src/ai-sdk/page.ts serves at /ai-sdk/app.js. Part of
// `npm run build`, after tsc: the running service never needs esbuild, React or the ai package
// (they are devDependencies), only this file. The Docker image's build stage runs it too.
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outfile = path.join(root, 'dist/ai-sdk/page-app.js');

const result = await build({
  entryPoints: [path.join(root, 'src/ai-sdk/page/app.tsx')],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  jsx: 'automatic',
  minify: true,
  sourcemap: false,
  legalComments: 'eof',
  define: { 'process.env.NODE_ENV': '"production"' },
  metafile: true,
  logLevel: 'warning',
});
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
process.stdout.write(`ai-sdk page: ${path.relative(root, outfile)} (${Math.round(bytes / 1024)} KiB)\n`);
