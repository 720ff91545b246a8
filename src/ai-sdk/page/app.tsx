/**
 * The AI SDK page (`/ai-sdk`): `useChat` from `@ai-sdk/react` with `resume: true`, through
 * lastcall's AI SDK front door, with no server code of its own. Bundled by esbuild at build time
 * (scripts/build-ai-sdk-page.mjs); checked by `tsc -p src/ai-sdk/page`.
 *
 * - The chat id is in the URL (`?chat=`), and the messages in this tab's sessionStorage, so a
 *   reload finds the chat, and `resume: true` asks GET /v1/ai-sdk/chat/{id}/stream for its
 *   active answer, which any replica replays from its start and then follows live.
 * - A response that ends without `finish` (its replica handed the stream off at shutdown, or
 *   was killed) is resumed by the page itself, once a second until a replica answers.
 * - With API_KEYS set, the key typed here stays in sessionStorage and goes only in the
 *   Authorization header (fetch can send headers): never in a URL.
 * - Stop calls the stop endpoint (the server cancels the generation, keeping the partial
 *   answer) and then `stop()`, which alone would only disconnect.
 */
import { useChat } from '@ai-sdk/react';
import { DefaultChatTransport, type UIMessage } from 'ai';
import { StrictMode, useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { createRoot } from 'react-dom/client';

const API = '/v1/ai-sdk/chat';
const KEY_ITEM = 'lastcall-key';
const messagesItem = (chatId: string) => `lastcall-ai-sdk:${chatId}`;
const RESUME_TRIES = 120;

type Phase = 'idle' | 'streaming' | 'resuming' | 'done' | 'stopped' | 'error';

/** The chat id from `?chat=`, or a new one put there (crypto.getRandomValues works on plain http too). */
function chatIdFromUrl(): string {
  const url = new URL(window.location.href);
  const existing = url.searchParams.get('chat');
  if (existing && /^[A-Za-z0-9_-]{1,128}$/.test(existing)) return existing;
  const id = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('');
  url.searchParams.set('chat', id);
  window.history.replaceState(null, '', url);
  return id;
}

function storedMessages(chatId: string): UIMessage[] {
  try {
    const raw = sessionStorage.getItem(messagesItem(chatId));
    return raw ? (JSON.parse(raw) as UIMessage[]) : [];
  } catch {
    return [];
  }
}

/** What a message says: its text after the last `data-lastcall-reset` part (an answer the upstream replaced). */
function answerOf(message: UIMessage): string {
  let text = '';
  for (const part of message.parts) {
    if (part.type === 'data-lastcall-reset') text = '';
    else if (part.type === 'text') text += part.text;
  }
  return text;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function App() {
  const chatId = useMemo(chatIdFromUrl, []);
  const initial = useMemo(() => storedMessages(chatId), [chatId]);
  const [key, setKey] = useState(() => sessionStorage.getItem(KEY_ITEM) ?? '');
  const [maxTokens, setMaxTokens] = useState(400);
  const [prompt, setPrompt] = useState('Explain how a pod drains before it is replaced.');
  const [phase, setPhase] = useState<Phase>('idle');
  const settings = useRef({ key, maxTokens });
  settings.current = { key, maxTokens };
  const auth = useCallback((): Record<string, string> => {
    const k = settings.current.key;
    return k ? { Authorization: `Bearer ${k}` } : {};
  }, []);

  const transport = useMemo(
    () =>
      new DefaultChatTransport({
        api: API,
        headers: auth,
        body: () => ({ max_tokens: settings.current.maxTokens }),
      }),
    [auth],
  );

  // How the last response ended, for the resume loop: with `finish`, without it, or not at all (204, a refused request).
  const ended = useRef<'finish' | 'no_finish' | 'error' | undefined>(undefined);
  const failed = useRef(false);
  const stopped = useRef(false);
  const resuming = useRef(false);

  const chat = useChat({
    id: chatId,
    messages: initial,
    resume: true,
    transport,
    onFinish: ({ isAbort, isError, isDisconnect, finishReason }) => {
      if (isAbort) return;
      if (finishReason) {
        ended.current = 'finish';
        setPhase(stopped.current ? 'stopped' : 'done');
      } else if (isError && !isDisconnect) {
        ended.current = 'error';
        setPhase('error');
      } else {
        // The replica stopped serving this answer (a handoff ends it without `finish`; a kill cuts it).
        ended.current = 'no_finish';
        void resumeUntilFinished();
      }
    },
    onError: () => {
      failed.current = true;
    },
  });
  const { messages, status, error, resumeStream, sendMessage } = chat;

  const resumeUntilFinished = useCallback(async () => {
    if (resuming.current) return;
    resuming.current = true;
    try {
      for (let attempt = 1; attempt <= RESUME_TRIES && !stopped.current; attempt++) {
        setPhase('resuming');
        await sleep(1000);
        ended.current = undefined;
        failed.current = false;
        await resumeStream();
        if (ended.current === 'finish' || ended.current === 'error') return;
        // 204: the chat has nothing active any more.
        if (ended.current === undefined && !failed.current) return setPhase('idle');
      }
      setPhase('error');
    } finally {
      resuming.current = false;
    }
  }, [resumeStream]);

  useEffect(() => {
    sessionStorage.setItem(messagesItem(chatId), JSON.stringify(messages));
  }, [chatId, messages]);

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (!prompt.trim()) return;
    stopped.current = false;
    setPhase('streaming');
    void sendMessage({ text: prompt });
  };

  const onStop = () => {
    stopped.current = true;
    const last = messages.at(-1);
    void fetch(`${API}/${encodeURIComponent(chatId)}/stop`, {
      method: 'POST',
      headers: { ...auth(), 'Content-Type': 'application/json' },
      body: JSON.stringify({ activeStreamId: last?.role === 'assistant' ? last.id : null }),
    });
    void chat.stop();
    setPhase('stopped');
  };

  const busy = status === 'submitted' || status === 'streaming';
  const shown: Phase = busy ? 'streaming' : status === 'error' && !resuming.current ? 'error' : phase;
  const lastAnswer = [...messages].reverse().find((m) => m.role === 'assistant');

  return (
    <>
      <form onSubmit={onSubmit}>
        <textarea id="prompt" value={prompt} onChange={(e) => setPrompt(e.target.value)} />
        <label>
          max tokens{' '}
          <input
            id="max"
            type="number"
            min={1}
            max={4096}
            value={maxTokens}
            onChange={(e) => setMaxTokens(Number(e.target.value))}
          />
        </label>{' '}
        <label>
          API key{' '}
          <input
            id="key"
            type="password"
            autoComplete="off"
            placeholder="only if API_KEYS is set"
            value={key}
            onChange={(e) => {
              setKey(e.target.value);
              sessionStorage.setItem(KEY_ITEM, e.target.value);
            }}
          />
        </label>{' '}
        <button id="send" type="submit" disabled={busy}>
          Send
        </button>{' '}
        <button id="stop" type="button" onClick={onStop} disabled={!busy && phase !== 'resuming'}>
          Stop
        </button>{' '}
        <a href="/ai-sdk">new chat</a>
      </form>
      <p id="status" data-state={shown}>
        {shown}
        {shown === 'error' && error ? `: ${error.message}` : ''} · chat {chatId}
      </p>
      {messages.map((m) => (
        <div key={m.id} className={`msg ${m.role}`} data-role={m.role}>
          {answerOf(m)}
        </div>
      ))}
      <div id="out" hidden>
        {lastAnswer ? answerOf(lastAnswer) : ''}
      </div>
    </>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
