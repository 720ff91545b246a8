#!/usr/bin/env node
// Quality / speed check for the shipped lastcall-mini-embed model.
// Loads it through @huggingface/transformers exactly as the app does (offline, local files only),
// runs the hand-made triplet checks in quality-checks.json (pass: cos(anchor, related) > cos(anchor, unrelated);
// "hard" ones use a negative from the same domain),
// and compares with two baselines: random per-token vectors (same tokenizer, i.e. pure word overlap)
// and random per-sentence vectors (chance).
//
// Usage: node models/check-quality.mjs [modelDir]   (run from the repo root, or anywhere with
//        @huggingface/transformers resolvable). Exit code 1 if fewer than 75% of checks pass.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(process.cwd(), 'package.json'));
let transformersPath;
try {
  transformersPath = require.resolve('@huggingface/transformers');
} catch {
  transformersPath = createRequire(join(here, '..', 'package.json')).resolve('@huggingface/transformers');
}
const { pipeline, env } = await import(transformersPath.endsWith('.cjs') ? transformersPath.replace(/\.cjs$/, '.mjs') : transformersPath);

env.allowRemoteModels = false;
env.allowLocalModels = true;

const modelDir = resolve(process.argv[2] ?? join(here, 'lastcall-mini-embed'));
const checks = JSON.parse(readFileSync(join(here, 'quality-checks.json'), 'utf8'));

const t0 = performance.now();
const extractor = await pipeline('feature-extraction', modelDir, { local_files_only: true });
const loadMs = performance.now() - t0;

const dot = (a, b) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * b[i]; return s; };
const norm = (a) => Math.sqrt(dot(a, a));
const cos = (a, b) => dot(a, b) / (norm(a) * norm(b) || 1);

async function embed(texts) {
  const out = await extractor(texts, { pooling: 'mean', normalize: true });
  const [n, d] = out.dims;
  const rows = [];
  for (let i = 0; i < n; i++) rows.push(out.data.slice(i * d, (i + 1) * d));
  return rows;
}

// Deterministic PRNG (mulberry32) + Box-Muller.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function gaussVec(r, d) {
  const v = new Float32Array(d);
  for (let i = 0; i < d; i++) v[i] = Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  return v;
}

const dims = (await embed(['probe']))[0].length;
console.log(`model: ${modelDir}`);
console.log(`load time: ${loadMs.toFixed(0)} ms, dims: ${dims}`);

// --- model ---
let pass = 0;
let passHard = 0;
const nHard = checks.filter((c) => c.hard).length;
const margins = [];
for (const [i, c] of checks.entries()) {
  const [a, r, u] = await embed([c.anchor, c.related, c.unrelated]);
  const sr = cos(a, r), su = cos(a, u);
  const ok = sr > su;
  if (ok) pass++;
  if (ok && c.hard) passHard++;
  margins.push(sr - su);
  console.log(`${ok ? 'PASS' : 'FAIL'} #${String(i + 1).padStart(2)} [${c.topic}${c.hard ? ', hard' : ''}] rel=${sr.toFixed(3)} unrel=${su.toFixed(3)} | ${c.anchor}`);
}

// --- baseline 1: random vector per token id (same tokenizer; measures plain word overlap) ---
const tokenizer = extractor.tokenizer;
const specials = new Set([tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id]);
const tokVecs = new Map();
const rTok = rng(12345);
function tokenBaseline(text) {
  const ids = tokenizer.encode(text);
  const v = new Float32Array(dims);
  for (const id of ids) {
    if (specials.has(id)) continue;
    if (!tokVecs.has(id)) tokVecs.set(id, gaussVec(rTok, dims));
    const t = tokVecs.get(id);
    for (let k = 0; k < dims; k++) v[k] += t[k];
  }
  return v;
}
let passTok = 0;
let passTokHard = 0;
for (const c of checks) {
  const a = tokenBaseline(c.anchor), r = tokenBaseline(c.related), u = tokenBaseline(c.unrelated);
  if (cos(a, r) > cos(a, u)) { passTok++; if (c.hard) passTokHard++; }
}

// --- baseline 2: random vector per sentence (chance), averaged over 200 seeds ---
let passRnd = 0;
const SEEDS = 200;
for (let s = 0; s < SEEDS; s++) {
  const r = rng(1000 + s);
  for (const c of checks) {
    const a = gaussVec(r, dims), b = gaussVec(r, dims), u = gaussVec(r, dims);
    if (cos(a, b) > cos(a, u)) passRnd++;
  }
}

const M = checks.length;
console.log('');
console.log(`model: easy (cross-domain negative) ${pass - passHard}/${M - nHard}, hard (same-domain negative) ${passHard}/${nHard}`);
console.log(`baseline (random vector per token, word overlap only): ${passTok}/${M} passed (easy ${passTok - passTokHard}/${M - nHard}, hard ${passTokHard}/${nHard})`);
console.log(`baseline (random vector per sentence, mean of ${SEEDS} seeds): ${(passRnd / SEEDS).toFixed(1)}/${M} passed`);
console.log(`mean margin cos(a,rel)-cos(a,unrel): ${(margins.reduce((x, y) => x + y, 0) / M).toFixed(3)}`);

// --- throughput at batch 32 ---
const pool = checks.flatMap((c) => [c.anchor, c.related, c.unrelated]);
const batch = Array.from({ length: 32 }, (_, i) => pool[i % pool.length]);
await embed(batch); // warm-up
const ITER = 50;
const t1 = performance.now();
for (let i = 0; i < ITER; i++) await embed(batch);
const sec = (performance.now() - t1) / 1000;
console.log(`throughput: ${((ITER * 32) / sec).toFixed(0)} embeddings/s at batch 32 (${((sec / ITER) * 1000).toFixed(1)} ms/batch)`);
console.log('');
console.log(`${pass}/${M} passed`);
process.exit(pass / M >= 0.75 ? 0 : 1);
