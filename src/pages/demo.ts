import type { Express } from 'express';
import { route } from '../http/routes.js';

/**
 * The demo page: a form that POSTs a prompt, then a plain browser EventSource on
 * `GET /v1/streams/:id`. Surviving a replica restart takes no code here: at handoff the server
 * sends `end` and closes, the EventSource reconnects by itself (after the `retry:` delay) with
 * `Last-Event-ID`, and whichever replica answers replays what was missed and continues.
 * With API_KEYS set, type the key into the page: it stays in this tab's sessionStorage and goes
 * only in the POST's Authorization header. EventSource cannot send headers, so the stream URL
 * carries the stream's short-lived ticket from the POST's answer instead — never the key.
 */
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lastcall — resumable stream demo</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
  textarea { width: 100%; min-height: 4rem; font: inherit; }
  #out { white-space: pre-wrap; border: 1px solid #ccc; border-radius: 6px; padding: 1rem; min-height: 8rem; }
  #status { color: #555; font-size: 0.9rem; }
</style>
</head>
<body>
<h1>lastcall</h1>
<p>Restart the replica serving this page mid-answer: the text carries on where it stopped.</p>
<form id="ask">
  <textarea id="prompt" name="prompt" required>Explain how a pod drains before it is replaced.</textarea>
  <label>max tokens <input id="max" name="max" type="number" min="1" max="4096" value="400"></label>
  <label>API key <input id="key" name="key" type="password" autocomplete="off" placeholder="only if API_KEYS is set"></label>
  <button type="submit">Ask</button>
</form>
<p id="status" data-state="idle">idle</p>
<div id="out"></div>
<script>
const keyInput = document.getElementById('key');
keyInput.value = sessionStorage.getItem('lastcall-key') || '';
keyInput.addEventListener('change', () => sessionStorage.setItem('lastcall-key', keyInput.value));
const out = document.getElementById('out');
const statusLine = document.getElementById('status');
const setStatus = (state, text) => { statusLine.dataset.state = state; statusLine.textContent = text; };

document.getElementById('ask').addEventListener('submit', async (e) => {
  e.preventDefault();
  out.textContent = '';
  const headers = { 'Content-Type': 'application/json' };
  if (keyInput.value) headers.Authorization = 'Bearer ' + keyInput.value;
  const post = new AbortController();
  const res = await fetch('/v1/chat/stream', {
    method: 'POST',
    headers,
    signal: post.signal,
    body: JSON.stringify({
      messages: [{ role: 'user', content: document.getElementById('prompt').value }],
      max_tokens: Number(document.getElementById('max').value),
    }),
  });
  if (!res.ok) return setStatus('error', 'refused: ' + res.status + ' ' + (await res.text()));
  const id = res.headers.get('Lastcall-Stream-Id');
  const ticket = res.headers.get('Lastcall-Stream-Ticket');
  const url = '/v1/streams/' + encodeURIComponent(id) + '?after=0' + (ticket ? '&ticket=' + encodeURIComponent(ticket) : '');
  const source = new EventSource(url);
  // The stream now has a second client; dropping the POST's copy does not stop the generation.
  source.onopen = () => { post.abort(); setStatus('streaming', 'streaming ' + id); };
  source.addEventListener('token', (ev) => { out.textContent += JSON.parse(ev.data).text; });
  // The replica that took over could not continue the answer (restart mode, a sampling model): what follows replaces it.
  source.addEventListener('reset', () => { out.textContent = ''; setStatus('streaming', 'the model could not continue; answer restarted'); });
  source.addEventListener('end', () => setStatus('reconnecting', 'replica handed the stream off; reconnecting…'));
  source.addEventListener('done', (ev) => {
    // Without close() the browser would reconnect after the server ends the response.
    source.close();
    setStatus('done', 'done: ' + JSON.parse(ev.data).finish_reason);
  });
  source.addEventListener('error', (ev) => {
    if (ev.data) { source.close(); setStatus('error', 'error: ' + ev.data); }
    else if (source.readyState === EventSource.CONNECTING) setStatus('reconnecting', 'connection lost; reconnecting…');
  });
});
</script>
</body>
</html>
`;

export function mountDemoPage(app: Express): void {
  route(app, '/', {
    get: (_req, res) => {
      res.type('html').set('Cache-Control', 'no-cache').send(PAGE);
    },
  });
}
