import { ValidateBy, type ValidationOptions } from 'class-validator';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isTokenList(v: unknown): boolean {
  return Array.isArray(v) && v.every((t) => Number.isInteger(t));
}

/** Ollama's `input` and `prompt` lists: a string, or an array of strings. */
export function isTextOrTexts(v: unknown): boolean {
  return typeof v === 'string' || (Array.isArray(v) && v.every((s) => typeof s === 'string'));
}

/** OpenAI's `input`/`prompt`: a string, strings, token ids, or lists of token ids. */
export function isOpenAiInput(v: unknown): boolean {
  if (typeof v === 'string') return true;
  if (!Array.isArray(v)) return false;
  return v.every((s) => typeof s === 'string') || isTokenList(v) || v.every(isTokenList);
}

/**
 * Chat messages Herd can read: objects with a string `role`. Ollama wants string `content`; OpenAI also allows
 * an array of content parts, or null on an assistant turn that only calls tools.
 */
export function isMessageList(v: unknown, openai: boolean): boolean {
  return (
    Array.isArray(v) &&
    v.every((m) => {
      if (!isPlainObject(m) || typeof m.role !== 'string') return false;
      const c = m.content;
      return c === undefined || typeof c === 'string' || (openai && (c === null || Array.isArray(c)));
    })
  );
}

export function IsTextOrTexts(options: ValidationOptions): PropertyDecorator {
  return ValidateBy({ name: 'isTextOrTexts', validator: { validate: isTextOrTexts } }, options);
}

export function IsOpenAiInput(options: ValidationOptions): PropertyDecorator {
  return ValidateBy({ name: 'isOpenAiInput', validator: { validate: isOpenAiInput } }, options);
}

export function IsMessageList(openai: boolean, options: ValidationOptions): PropertyDecorator {
  return ValidateBy({ name: 'isMessageList', validator: { validate: (v: unknown) => isMessageList(v, openai) } }, options);
}
