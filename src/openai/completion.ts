import { completionId } from '../streams/formats/chat-completions.js';
import type { Entry, Finish } from '../streams/protocol.js';
import type { StreamInfo } from '../streams/render.js';

interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** The answer a log holds after its last reset: its text and its tool calls, pieces joined per call index. */
export function answerOf(entries: readonly Entry[]): { text: string; toolCalls: ToolCall[] } {
  let text = '';
  let calls = new Map<number, ToolCall>();
  for (const e of entries) {
    switch (e.kind) {
      case 'reset':
        text = '';
        calls = new Map();
        break;
      case 'text':
        text += e.text;
        break;
      case 'tool': {
        const call = calls.get(e.index) ?? { id: '', type: 'function', function: { name: '', arguments: '' } };
        if (e.id !== undefined) call.id = e.id;
        if (e.name !== undefined) call.function.name = e.name;
        call.function.arguments += e.arguments;
        calls.set(e.index, call);
        break;
      }
    }
  }
  return { text, toolCalls: [...calls.entries()].sort(([a], [b]) => a - b).map(([, c]) => c) };
}

/**
 * OpenAI's `chat.completion` (https://platform.openai.com/docs/api-reference/chat/object) for a
 * finished stream: the same id and `created` as its chunks, on every replica.
 */
export function completionObject(stream: StreamInfo, entries: readonly Entry[], outcome: Finish, lastSeq: number) {
  const { text, toolCalls } = answerOf(entries);
  const usage = outcome.usage ?? { prompt_tokens: 0, completion_tokens: lastSeq, total_tokens: lastSeq };
  return {
    id: completionId(stream.id),
    object: 'chat.completion',
    created: Math.floor(stream.createdAt.getTime() / 1000),
    model: stream.request.model ?? 'unknown',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          // OpenAI sends null content beside tool calls.
          content: toolCalls.length > 0 && text === '' ? null : text,
          refusal: null,
          ...(toolCalls.length > 0 && { tool_calls: toolCalls }),
        },
        logprobs: null,
        finish_reason: outcome.finish_reason,
      },
    ],
    usage,
  };
}
