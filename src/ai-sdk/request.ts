import { z } from 'zod';
import { text, textProblem } from '../http/validate.js';
import type { ChatMessage } from '../llm/upstream.js';
import { LIMITS, type StreamRequest } from '../streams/protocol.js';

/**
 * What `DefaultChatTransport.sendMessages` POSTs (ai 6, `HttpChatTransport`): `id` (the chat),
 * `messages` (UIMessage[]: `{id, role, parts, metadata?}`), `trigger` (`submit-message` or
 * `regenerate-message`), `messageId` (the message being edited or regenerated), plus whatever the
 * transport's `body` option adds: here `max_tokens`, lastcall's cap on the answer.
 */

/** Parts one message may have: each is bounded anyway, this bounds the work of walking them. */
export const MAX_PARTS = 100;
const MAX_ID_CHARS = 128;

/**
 * A chat id: the client's own (`useChat`'s generateId, a UUID, a nanoid). It ends up in a URL
 * path (`/v1/ai-sdk/chat/{id}/stream`), so it is kept to characters that need no escaping there,
 * and never `.` or `..` (the transport refuses those too).
 */
const CHAT_ID = /^[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,127}$/;
export const isChatId = (id: string) => CHAT_ID.test(id);
export const chatId = z
  .string()
  .regex(CHAT_ID, `must be 1 to ${MAX_ID_CHARS} characters of A-Z a-z 0-9 _ - : . (not starting with .)`);

const messageId = z
  .string()
  .min(1)
  .max(256)
  .refine((s) => textProblem(s) === undefined, 'must be plain text');

/**
 * Part types, and what the front door does with each (the choice, in one place):
 * - `text` goes to the upstream;
 * - display-only parts are ignored, as the AI SDK's own `convertToModelMessages` ignores data
 *   parts and step boundaries: `step-start`, `reasoning` (an OpenAI-compatible chat upstream takes
 *   no reasoning back), `source-url`, `source-document`, `data-*`;
 * - parts the upstream would need and lastcall cannot pass are refused, naming the part, rather
 *   than silently asking the model something else: `file` (attachments), `tool-*` and
 *   `dynamic-tool` (this front door passes no tools), and any type it does not know.
 */
const IGNORED = new Set(['step-start', 'reasoning', 'source-url', 'source-document']);
const REFUSED: Readonly<Record<string, string>> = {
  file: 'file parts (attachments) are not supported by lastcall: send the text',
  'dynamic-tool': 'tool parts are not supported: lastcall passes no tools to the upstream',
};
/** The data part that marks a replaced answer (see src/streams/formats/ui-message.ts). */
export const RESET_PART = 'data-lastcall-reset';

type Part = { readonly type: string; readonly [k: string]: unknown };

const partText = text({ max: LIMITS.maxMessageChars });

const uiMessage = z
  .object({
    id: messageId,
    role: z.enum(['system', 'user', 'assistant']),
    parts: z.array(z.looseObject({ type: z.string().max(200) })).max(MAX_PARTS),
  })
  .superRefine((m, ctx) => {
    let chars = 0;
    m.parts.forEach((p: Part, j) => {
      if (p.type === 'text') {
        const r = partText.safeParse(p.text);
        if (!r.success) {
          for (const issue of r.error.issues)
            ctx.addIssue({ code: 'custom', path: ['parts', j, 'text'], message: issue.message });
        } else chars += r.data.length;
        return;
      }
      if (IGNORED.has(p.type) || p.type.startsWith('data-')) return;
      const refused = REFUSED[p.type] ?? (p.type.startsWith('tool-') ? REFUSED['dynamic-tool'] : undefined);
      ctx.addIssue({
        code: 'custom',
        path: ['parts', j, 'type'],
        message: refused ?? `unknown part type ${JSON.stringify(p.type.slice(0, 40))}`,
      });
    });
    if (chars > LIMITS.maxMessageChars) {
      ctx.addIssue({
        code: 'custom',
        path: ['parts'],
        message: `text parts hold ${chars} characters; at most ${LIMITS.maxMessageChars} per message`,
      });
    }
    if (m.role !== 'assistant' && messageText(m).trim().length === 0) {
      ctx.addIssue({ code: 'custom', path: ['parts'], message: `a ${m.role} message needs a text part that is not blank` });
    }
  });
type UiMessage = z.infer<typeof uiMessage>;

export const aiSdkChatRequest = z
  .object({
    id: chatId,
    messages: z.array(uiMessage).min(1).max(LIMITS.maxMessages),
    trigger: z.enum(['submit-message', 'regenerate-message']).default('submit-message'),
    messageId: messageId.optional(),
    max_tokens: z.number().int().min(1).max(LIMITS.maxTokens).default(LIMITS.maxTokens),
  })
  .superRefine((body, ctx) => {
    // An assistant message last would ask the upstream to continue it: not what a chat turn is.
    if (body.messages.at(-1)?.role !== 'user') {
      ctx.addIssue({
        code: 'custom',
        path: ['messages', body.messages.length - 1, 'role'],
        message: "the last message must be the user's",
      });
    }
  });
export type AiSdkChatRequest = z.infer<typeof aiSdkChatRequest>;

/**
 * The text a message puts to the upstream. An assistant message keeps only what follows its last
 * `data-lastcall-reset` part: the text before it is an answer the upstream replaced.
 */
function messageText(m: { readonly role: string; readonly parts: readonly Part[] }): string {
  const texts: string[] = [];
  for (const p of m.parts) {
    if (p.type === RESET_PART && m.role === 'assistant') texts.length = 0;
    else if (p.type === 'text' && typeof p.text === 'string') texts.push(p.text);
  }
  // Streamed pieces of one answer join as they are; a user's separate text parts are separate lines.
  return texts.join(m.role === 'assistant' ? '' : '\n');
}

/** The conversation as the upstream takes it: one message per UI message with text (assistant ones without are left out). */
export function toChatMessages(messages: readonly UiMessage[]): ChatMessage[] {
  return messages.flatMap((m) => {
    const content = messageText(m);
    return m.role === 'assistant' && content.length === 0 ? [] : [{ role: m.role, content }];
  });
}

/** What the stream generates: the converted conversation and the answer's cap. */
export function streamRequest(body: AiSdkChatRequest): StreamRequest {
  return { messages: toChatMessages(body.messages), max_tokens: body.max_tokens };
}
