/**
 * How each provider treats a chat whose last message is from the assistant, which routes it serves, and
 * the shape of its error bodies. Every behaviour here is taken from the provider's documentation or from
 * error bodies its users quoted; the source is beside each one.
 */
export const PROFILE_NAMES = ['openai', 'vllm', 'mistral', 'deepseek', 'llamacpp', 'ollama', 'no-responses'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** A chat message with its content flattened to text. */
export interface ChatMessageView {
  role: string;
  content: string;
  prefix?: boolean;
}

export interface ChatRequestView {
  messages: ChatMessageView[];
  /** The request body, for the provider-specific fields (continue_final_message, chat_template_kwargs...). */
  body: Record<string, unknown>;
  path: string;
}

export type PrefillDecision =
  | { mode: 'new' }
  /** The last assistant message is continued; `echo`: the returned content starts with that prefix. */
  | { mode: 'continued'; prefix: string; echo: boolean }
  | { mode: 'refused'; status: number; body: unknown };

export interface ErrorDetail {
  type?: string;
  param?: string | null;
  code?: string | null;
}

export interface Profile {
  name: ProfileName;
  /** stateful: stored, background, retrieve/cancel/delete; stateless: create only; none: 404. */
  responses: 'stateful' | 'stateless' | 'none';
  chatPaths: readonly string[];
  prefill(req: ChatRequestView, opts: { thinking: boolean }): PrefillDecision;
  error(status: number, message: string, detail?: ErrorDetail): unknown;
  notFound(method: string, path: string): unknown;
}

// OpenAI: {"error":{"message","type","param","code"}} (https://platform.openai.com/docs/guides/error-codes).
const openaiType = (status: number) => (status === 429 ? 'requests' : status >= 500 ? 'server_error' : 'invalid_request_error');
const openaiError = (status: number, message: string, d: ErrorDetail = {}) => ({
  error: { message, type: d.type ?? openaiType(status), param: d.param ?? null, code: d.code ?? null },
});

const last = (req: ChatRequestView) => req.messages[req.messages.length - 1];
const refused = (status: number, body: unknown): PrefillDecision => ({ mode: 'refused', status, body });
const V1_CHAT = ['/v1/chat/completions'] as const;

const openai: Profile = {
  name: 'openai',
  responses: 'stateful',
  chatPaths: V1_CHAT,
  // OpenAI documents no prefill: the messages are the conversation so far and the reply is always a new
  // assistant message, whatever role the list ends with (https://platform.openai.com/docs/api-reference/chat/create).
  prefill: () => ({ mode: 'new' }),
  error: openaiError,
  // OpenAI answers an unknown route with "Invalid URL (POST /v1/...)", as quoted in
  // https://github.com/QuantumNous/new-api/issues/999.
  notFound: (method, path) => openaiError(404, `Invalid URL (${method} ${path})`),
};

// vLLM nests errors as {"error":{"message","type","param","code"}} with code = the HTTP status
// (ErrorInfo/ErrorResponse in vllm/entrypoints/openai/protocol.py, https://github.com/vllm-project/vllm).
const VLLM_TYPES: Record<number, string> = { 404: 'NotFoundError', 429: 'RateLimitError' };
const vllmType = (status: number) => VLLM_TYPES[status] ?? (status >= 500 ? 'InternalServerError' : 'BadRequestError');
const vllmError = (status: number, message: string, d: ErrorDetail = {}) => ({
  error: { message, type: d.type ?? vllmType(status), param: d.param ?? null, code: status },
});

const vllm: Profile = {
  name: 'vllm',
  responses: 'none',
  chatPaths: V1_CHAT,
  prefill(req) {
    const cont = req.body.continue_final_message === true;
    // vLLM: continue_final_message "Cannot be used at the same time as `add_generation_prompt`"; the request
    // validator refuses both set to true (https://github.com/vllm-project/vllm/pull/8942,
    // https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html#extra-parameters-for-chat-api).
    if (cont && req.body.add_generation_prompt === true) {
      return refused(400, vllmError(400, 'Cannot set both `continue_final_message` and `add_generation_prompt` to True.'));
    }
    const end = last(req);
    if (!cont || !end) return { mode: 'new' };
    // vLLM's check when the flag is set on a list that does not end with the assistant
    // (vllm/transformers_utils/tokenizers/mistral.py).
    if (end.role !== 'assistant') {
      const message = 'Cannot set `continue_final_message` to True when the last message is not from the assistant.';
      return refused(400, vllmError(400, message));
    }
    // vLLM `echo`: "the new message will be prepended with the last message if they belong to the same role".
    return { mode: 'continued', prefix: end.content, echo: req.body.echo === true };
  },
  error: vllmError,
  // vLLM serves through FastAPI, whose unknown-route answer is {"detail":"Not Found"}.
  notFound: () => ({ detail: 'Not Found' }),
};

// Mistral: top-level {"object":"error","message","type","param","code"}, as quoted in
// https://github.com/langchain-ai/langchain/issues/23703 and https://github.com/NEKOparapa/AiNiee/issues/641.
const mistralError = (_status: number, message: string, d: ErrorDetail = {}) => ({
  object: 'error',
  message,
  type: d.type ?? 'invalid_request_error',
  param: d.param ?? null,
  code: d.code ?? null,
});

const mistral: Profile = {
  name: 'mistral',
  responses: 'none',
  chatPaths: V1_CHAT,
  prefill(req) {
    const end = last(req);
    if (end?.role !== 'assistant') return { mode: 'new' };
    // Mistral: an assistant message with "prefix": true "force[s] the model to start its answer by the content
    // of the message", and the returned content includes that prefix (the guide strips it with
    // content[len(prefix):]) (https://docs.mistral.ai/guides/prefix/).
    if (end.prefix === true) return { mode: 'continued', prefix: end.content, echo: true };
    const message = 'Expected last role User or Tool (or Assistant with prefix True) for serving but got assistant';
    return refused(400, mistralError(400, message));
  },
  error: mistralError,
  notFound: () => ({ detail: 'Not Found' }),
};

// DeepSeek: {"error":{"message","type":"invalid_request_error","param":null,"code":"invalid_request_error"}},
// as quoted in https://github.com/gptme/gptme/issues/467.
const deepseekError = (status: number, message: string, d: ErrorDetail = {}) => ({
  error: {
    message,
    type: d.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error'),
    param: d.param ?? null,
    code: d.code ?? (status >= 500 ? 'server_error' : 'invalid_request_error'),
  },
});

const deepseek: Profile = {
  name: 'deepseek',
  responses: 'none',
  // DeepSeek's beta features need base_url="https://api.deepseek.com/beta"
  // (https://api-docs.deepseek.com/guides/chat_prefix_completion).
  chatPaths: ['/v1/chat/completions', '/beta/chat/completions'],
  prefill(req, { thinking }) {
    const end = last(req);
    if (end?.role !== 'assistant') return { mode: 'new' };
    if (end.prefix === true) {
      // Prefix outside the beta base URL is refused, as quoted in https://github.com/QuantumNous/new-api/issues/999.
      if (!req.path.startsWith('/beta/')) {
        const message = 'prefix is only available when using beta api (set base_url="https://api.deepseek.com/beta")';
        return refused(400, deepseekError(400, message));
      }
      // DeepSeek chat prefix completion: last message role assistant with prefix True is completed
      // (https://api-docs.deepseek.com/guides/chat_prefix_completion).
      return { mode: 'continued', prefix: end.content, echo: false };
    }
    // deepseek-reasoner (thinking) refuses a trailing assistant without prefix, as quoted in
    // https://github.com/BerriAI/litellm/issues/8090.
    if (thinking) {
      return refused(
        400,
        deepseekError(
          400,
          'The last message of deepseek-reasoner must be a user message, or an assistant message with prefix mode on ' +
            '(refer to https://api-docs.deepseek.com/guides/chat_prefix_completion).',
        ),
      );
    }
    return { mode: 'new' };
  },
  error: deepseekError,
  notFound: (method, path) => deepseekError(404, `Invalid URL (${method} ${path})`),
};

// llama.cpp server: {"error":{"code","message","type"}}, as quoted in https://github.com/ggml-org/llama.cpp/issues/20861.
const llamacppError = (status: number, message: string, d: ErrorDetail = {}) => ({
  error: { code: status, message, type: d.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error') },
});

const llamacpp: Profile = {
  name: 'llamacpp',
  responses: 'none',
  chatPaths: V1_CHAT,
  prefill(req, { thinking }) {
    const end = last(req);
    if (end?.role !== 'assistant') return { mode: 'new' };
    // Thinking is on when the server's template enables it unless the request turns it off, or when the request
    // sets chat_template_kwargs.enable_thinking (https://github.com/ggml-org/llama.cpp/pull/15404).
    const kwargs = (req.body.chat_template_kwargs ?? {}) as { enable_thinking?: unknown };
    const on = typeof kwargs.enable_thinking === 'boolean' ? kwargs.enable_thinking : thinking;
    if (on) {
      return refused(400, llamacppError(400, 'Assistant response prefill is incompatible with enable_thinking.'));
    }
    // llama.cpp: a trailing assistant message is a prefill the model continues
    // (https://github.com/ggml-org/llama.cpp/pull/13174).
    return { mode: 'continued', prefix: end.content, echo: false };
  },
  error: llamacppError,
  notFound: () => llamacppError(404, 'File Not Found', { type: 'not_found_error' }),
};

const ollama: Profile = {
  name: 'ollama',
  // Ollama's /v1/responses (v0.13.3+) is stateless only: no stored or background responses
  // (https://docs.ollama.com/api/openai-compatibility).
  responses: 'stateless',
  chatPaths: V1_CHAT,
  prefill(req) {
    const end = last(req);
    if (end?.role !== 'assistant') return { mode: 'new' };
    // Ollama's templates leave a trailing assistant turn open, so the model continues it; its maintainers
    // point to this as the way to continue a message (https://github.com/ollama/ollama/issues/6778).
    return { mode: 'continued', prefix: end.content, echo: false };
  },
  error: openaiError,
  notFound: () => ({ error: { message: '404 page not found', type: 'invalid_request_error', param: null, code: null } }),
};

// Most OpenAI-compatible servers serve chat completions only: /v1/responses is an unknown route.
const noResponses: Profile = { ...openai, name: 'no-responses', responses: 'none' };

export const PROFILES: Record<ProfileName, Profile> = {
  openai,
  vllm,
  mistral,
  deepseek,
  llamacpp,
  ollama,
  'no-responses': noResponses,
};
