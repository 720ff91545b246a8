import type { Express } from 'express';
import { route } from '../http/routes.js';

/**
 * The demo page, in two tabs. lastcall's own streams: a form that POSTs a prompt, then a plain
 * browser EventSource on `GET /v1/streams/:id`. Surviving a replica restart takes no code here: at handoff the server
 * sends `end` and closes, the EventSource reconnects by itself (after the `retry:` delay) with
 * `Last-Event-ID`, and whichever replica answers replays what was missed and continues.
 * With API_KEYS set, type the key into the page: it stays in this tab's sessionStorage and goes
 * only in the POST's Authorization header. EventSource cannot send headers, so the stream URL
 * carries the stream's short-lived ticket from the POST's answer instead — never the key.
 * The OpenAI Responses API: a background, streamed response read with fetch(), resumed with
 * `starting_after` from the last sequence number when its replica drains.
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
  #out, #r-out { white-space: pre-wrap; border: 1px solid #ccc; border-radius: 6px; padding: 1rem; min-height: 8rem; }
  #status, #r-status { color: #555; font-size: 0.9rem; }
  nav button[aria-pressed="true"] { font-weight: bold; }
</style>
</head>
<body>
<h1>lastcall</h1>
<p>Restart the replica serving this page mid-answer: the text carries on where it stopped.</p>
<nav><button type="button" data-tab="stream" aria-pressed="true">lastcall streams</button>
<button type="button" data-tab="responses" aria-pressed="false">OpenAI Responses API</button></nav>
<section id="tab-stream">
<form id="ask">
  <textarea id="prompt" name="prompt" required>Explain how a pod drains before it is replaced.</textarea>
  <label>max tokens <input id="max" name="max" type="number" min="1" max="4096" value="400"></label>
  <label>API key <input id="key" name="key" type="password" autocomplete="off" placeholder="only if API_KEYS is set"></label>
  <button type="submit">Ask</button>
</form>
<p id="status" data-state="idle">idle</p>
<div id="out"></div>
</section>
<section id="tab-responses" hidden>
<p>A background response (<code>POST /v1/responses</code>, <code>background</code> and <code>stream</code>):
when its replica drains, the event stream ends early and the page resumes with
<code>GET /v1/responses/{id}?stream=true&amp;starting_after=N</code> on whichever replica answers.</p>
<form id="ask-responses">
  <textarea id="r-prompt" name="prompt" required>Explain how a background response survives a rolling restart.</textarea>
  <label>max output tokens <input id="r-max" name="max" type="number" min="1" max="4096" value="400"></label>
  <label>API key <input id="r-key" name="key" type="password" autocomplete="off" placeholder="only if API_KEYS is set"></label>
  <button type="submit">Ask</button>
</form>
<p id="r-status" data-state="idle">idle</p>
<div id="r-out"></div>
</section>
<script>
for (const tab of document.querySelectorAll('nav button')) {
  tab.addEventListener('click', () => {
    for (const t of document.querySelectorAll('nav button')) {
      t.setAttribute('aria-pressed', String(t === tab));
      document.getElementById('tab-' + t.dataset.tab).hidden = t !== tab;
    }
  });
}
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

// The Responses tab: fetch() reads the POST's event stream (an EventSource can only GET).
const rKey = document.getElementById('r-key');
rKey.value = sessionStorage.getItem('lastcall-key') || '';
rKey.addEventListener('change', () => sessionStorage.setItem('lastcall-key', rKey.value));
const rOut = document.getElementById('r-out');
const rStatus = document.getElementById('r-status');
const rSet = (state, text) => { rStatus.dataset.state = state; rStatus.textContent = text; };
const TERMINAL = ['response.completed', 'response.incomplete', 'response.failed', 'response.cancelled'];

/** Calls onEvent with each event's JSON until the body ends (cleanly, or cut). */
async function readEvents(res, onEvent) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\\n\\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame.split('\\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\\n');
      if (data) onEvent(JSON.parse(data));
    }
  }
}

document.getElementById('ask-responses').addEventListener('submit', async (e) => {
  e.preventDefault();
  rOut.textContent = '';
  const headers = { 'Content-Type': 'application/json' };
  if (rKey.value) headers.Authorization = 'Bearer ' + rKey.value;
  const models = await fetch('/v1/models', { headers });
  if (!models.ok) return rSet('error', 'refused: ' + models.status + ' ' + (await models.text()));
  let id = null;
  let last = -1;
  let terminal = null;
  const onEvent = (ev) => {
    last = ev.sequence_number;
    if (ev.type === 'response.created') id = ev.response.id;
    if (ev.type === 'response.output_text.delta') rOut.textContent += ev.delta;
    if (TERMINAL.includes(ev.type)) terminal = ev.response;
  };
  let res = await fetch('/v1/responses', {
    method: 'POST',
    headers,
    body: JSON.stringify({
      model: (await models.json()).data[0].id,
      input: document.getElementById('r-prompt').value,
      max_output_tokens: Number(document.getElementById('r-max').value),
      background: true,
      stream: true,
    }),
  });
  if (!res.ok) return rSet('error', 'refused: ' + res.status + ' ' + (await res.text()));
  for (;;) {
    rSet('streaming', 'streaming ' + (id || 'a new response'));
    try { await readEvents(res, onEvent); } catch { /* cut: resume below */ }
    if (terminal) return rSet('done', 'done: ' + terminal.status);
    if (!id) return rSet('error', 'the stream ended before response.created');
    rSet('reconnecting', 'replica handed the response off; resuming after event ' + last + '…');
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      try {
        res = await fetch('/v1/responses/' + encodeURIComponent(id) + '?stream=true&starting_after=' + last, { headers });
      } catch { continue; }
      if (res.ok) break;
      if (res.status !== 429 && res.status < 500) return rSet('error', 'refused: ' + res.status + ' ' + (await res.text()));
    }
  }
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
