import { readFile } from 'node:fs/promises';
import type { Express } from 'express';
import { ApiError } from '../errors/errors.js';
import { sendError } from '../http/errors.js';
import { route } from '../http/routes.js';

/**
 * The AI SDK page at `/ai-sdk`: a React app using `useChat({ resume: true })` from
 * `@ai-sdk/react` through the AI SDK front door (source: src/ai-sdk/page/app.tsx). It is bundled
 * with esbuild by `npm run build` (scripts/build-ai-sdk-page.mjs) into dist/ai-sdk/page-app.js,
 * next to this module once compiled, and served from there: nothing is bundled at run time.
 */
const BUNDLE = new URL('./page-app.js', import.meta.url);

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lastcall — AI SDK useChat demo</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
  textarea { width: 100%; min-height: 4rem; font: inherit; }
  .msg { white-space: pre-wrap; border: 1px solid #ccc; border-radius: 6px; padding: 0.75rem 1rem; margin: 0.5rem 0; }
  .msg.user { background: #f4f6fa; }
  #status { color: #555; font-size: 0.9rem; }
</style>
</head>
<body>
<h1>lastcall + AI SDK</h1>
<p>A <code>useChat({ resume: true })</code> chat. Restart the replica mid-answer and reload: the answer carries on.</p>
<div id="root"></div>
<script type="module" src="/ai-sdk/app.js"></script>
</body>
</html>
`;

let bundle: Promise<string> | undefined;

export function mountAiSdkPage(app: Express): void {
  route(app, '/ai-sdk', {
    get: (_req, res) => {
      res.type('html').set('Cache-Control', 'no-cache').send(PAGE);
    },
  });
  route(app, '/ai-sdk/app.js', {
    get: async (_req, res) => {
      bundle ??= readFile(BUNDLE, 'utf8');
      let js: string;
      try {
        js = await bundle;
      } catch {
        bundle = undefined;
        return sendError(res, new ApiError(404, 'not_found', 'the AI SDK page was not built: run npm run build'));
      }
      res.type('text/javascript').set('Cache-Control', 'no-cache').send(js);
    },
  });
}
