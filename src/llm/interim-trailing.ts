import type OpenAI from 'openai';
import { answerText, UpstreamError, type UpstreamAdapter } from './upstream.js';

// Interim (replaced by the adapters branch): today's behaviour, a trailing assistant message.
export function interimTrailingAdapter(client: OpenAI, model: string): UpstreamAdapter {
  return {
    mode: 'trailing',
    async *generate(request, from, signal) {
      const prefix = from ? answerText(from.entries) : '';
      const done = from ? from.entries.length : 0;
      const messages = prefix ? [...request.messages, { role: 'assistant' as const, content: prefix }] : request.messages;
      const remaining = request.maxTokens - done;
      if (remaining <= 0) {
        yield { type: 'finish', finishReason: 'length' };
        return;
      }
      let stream;
      try {
        stream = await client.chat.completions.create(
          { model, messages: messages as never, max_tokens: remaining, stream: true, stream_options: { include_usage: true } },
          { signal },
        );
      } catch (err) {
        if (signal.aborted) return;
        throw new UpstreamError((err as Error).message, true, { cause: err });
      }
      let finish: string | undefined;
      let usage: { promptTokens: number; completionTokens: number } | undefined;
      try {
        for await (const chunk of stream) {
          const choice = chunk.choices[0];
          if (choice?.delta?.content) yield { type: 'text', text: choice.delta.content };
          if (choice?.finish_reason) finish = choice.finish_reason;
          if (chunk.usage) usage = { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens };
        }
      } catch (err) {
        if (signal.aborted) return;
        throw new UpstreamError((err as Error).message, true, { cause: err });
      }
      if (signal.aborted) return;
      if (!finish) throw new UpstreamError('upstream stream ended without a finish_reason', true);
      yield { type: 'finish', finishReason: finish, ...(usage && { usage }) };
    },
    cancel: async () => undefined,
  };
}
