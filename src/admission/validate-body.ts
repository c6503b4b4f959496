import { validateSync } from 'class-validator';
import { HerdError } from '../common/herd-error';

/** Validates a JSON body against a DTO class; every problem ends up in one 400 message. */
export function validateBody<T extends object>(cls: new () => T, body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw HerdError.badRequest('request body must be a JSON object');
  }
  // Request DTOs declare no conversions, so a plain copy onto an instance is all class-validator needs
  // (class-transformer's plainToInstance costs more than the validation itself on the hot path).
  const dto = Object.assign(new cls(), body);
  // A `__proto__` key would have swapped the prototype and with it every validation rule. The body check in
  // bootstrap refuses such keys first; this guards any path that reaches here without it.
  if (Object.getPrototypeOf(dto) !== cls.prototype) throw HerdError.badRequest('request body must not contain the key "__proto__"');
  const errors = validateSync(dto, { forbidUnknownValues: false, stopAtFirstError: true });
  if (errors.length > 0) {
    throw HerdError.badRequest(errors.flatMap((e) => Object.values(e.constraints ?? {})).join('; '));
  }
  // Ollama (Go) reads a JSON null as "not set", and so do the optional rules above: make the DTO say so too,
  // so code reading an optional field never meets a null its type does not admit. The body sent on is untouched.
  for (const key of Object.keys(dto)) if ((dto as Record<string, unknown>)[key] === null) delete (dto as Record<string, unknown>)[key];
  return dto;
}
