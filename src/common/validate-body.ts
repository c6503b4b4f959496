import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { validateSync } from 'class-validator';
import { HerdError } from './herd-error';

/** Validates a JSON body against a DTO class; every problem ends up in one 400 message. */
export function validateBody<T extends object>(cls: ClassConstructor<T>, body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw HerdError.badRequest('request body must be a JSON object');
  }
  const dto = plainToInstance(cls, body);
  const errors = validateSync(dto, { forbidUnknownValues: false, stopAtFirstError: true });
  if (errors.length > 0) {
    throw HerdError.badRequest(errors.flatMap((e) => Object.values(e.constraints ?? {})).join('; '));
  }
  return dto;
}
