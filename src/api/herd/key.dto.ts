import { IsInt, IsISO8601, IsNumber, IsOptional, IsString, Matches, Max, Min, ValidateBy } from 'class-validator';
import { validateBody } from '../../admission/validate-body';
import { HerdError } from '../../common/herd-error';
import { RPM_MAX, TPM_MAX, WEIGHT_MAX, WEIGHT_MIN, type ApiKeyChanges, type NewApiKey } from '../../tenants/api-key';
import { isTenantName } from '../../tenants/caller';
import { isModelPattern } from '../../tenants/model-glob';

function IsTenantName(): PropertyDecorator {
  return ValidateBy({
    name: 'isTenantName',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && isTenantName(value),
      defaultMessage: () => 'tenant is required: 1-64 letters, digits, _ . @ : or -, starting with a letter or digit',
    },
  });
}

const MODELS_RULE = 'models must be an array of 1-100 model name patterns like "llama3*": letters, digits, . _ : / - and the wildcards * ?, up to 200 characters each';

function IsModelPatterns(): PropertyDecorator {
  return ValidateBy({
    name: 'isModelPatterns',
    validator: {
      validate: (v: unknown) => Array.isArray(v) && v.length >= 1 && v.length <= 100 && v.every((p) => typeof p === 'string' && isModelPattern(p)),
      defaultMessage: () => MODELS_RULE,
    },
  });
}

/** What a key may be given at creation and changed later. */
class KeySettingsDto {
  @IsOptional() @IsString({ message: 'name must be a string' }) @Matches(/^[^\p{Cc}]{1,100}$/u, { message: 'name must be 1-100 characters, no control characters' })
  name?: string;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: `weight must be a number from ${WEIGHT_MIN} to ${WEIGHT_MAX}` })
  @Min(WEIGHT_MIN, { message: `weight must be a number from ${WEIGHT_MIN} to ${WEIGHT_MAX}` })
  @Max(WEIGHT_MAX, { message: `weight must be a number from ${WEIGHT_MIN} to ${WEIGHT_MAX}` })
  weight?: number;

  @IsOptional() @IsInt({ message: 'priorityFloor must be an integer from 1 to 10' }) @Min(1, { message: 'priorityFloor must be an integer from 1 to 10' }) @Max(10, { message: 'priorityFloor must be an integer from 1 to 10' })
  priorityFloor?: number;

  @IsOptional() @IsModelPatterns()
  models?: string[];

  @IsOptional() @IsInt({ message: `rpm must be an integer from 1 to ${RPM_MAX}` }) @Min(1, { message: `rpm must be an integer from 1 to ${RPM_MAX}` }) @Max(RPM_MAX, { message: `rpm must be an integer from 1 to ${RPM_MAX}` })
  rpm?: number;

  @IsOptional() @IsInt({ message: `tpm must be an integer from 1 to ${TPM_MAX}` }) @Min(1, { message: `tpm must be an integer from 1 to ${TPM_MAX}` }) @Max(TPM_MAX, { message: `tpm must be an integer from 1 to ${TPM_MAX}` })
  tpm?: number;

  @IsOptional() @IsISO8601({ strict: true }, { message: 'expiresAt must be an ISO 8601 date-time such as 2030-01-31T00:00:00Z' })
  expiresAt?: string;
}

/** Body of POST /herd/keys. */
export class CreateKeyDto extends KeySettingsDto {
  @IsTenantName()
  tenant!: string;
}

/** Body of PATCH /herd/keys/:id: any of the settings; `null` removes name, models, rpm, tpm or expiresAt. */
export class PatchKeyDto extends KeySettingsDto {}

const SETTINGS = ['name', 'weight', 'priorityFloor', 'models', 'rpm', 'tpm', 'expiresAt'] as const;
const CLEARABLE: ReadonlySet<string> = new Set(['name', 'models', 'rpm', 'tpm', 'expiresAt']);

/** A misspelt field ("rmp") would otherwise be ignored and the key made without the limit meant. */
function refuseUnknownFields(body: unknown, allowed: readonly string[]): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw HerdError.badRequest(`unknown field ${JSON.stringify(unknown[0].slice(0, 64))}: the fields are ${allowed.join(', ')}`);
  }
}

export function newKeyFrom(body: unknown): NewApiKey {
  refuseUnknownFields(body, ['tenant', ...SETTINGS]);
  const dto = validateBody(CreateKeyDto, body);
  const out: NewApiKey = { tenant: dto.tenant };
  for (const field of SETTINGS) if (dto[field] !== undefined) (out as unknown as Record<string, unknown>)[field] = dto[field];
  return out;
}

export function keyChangesFrom(body: unknown): ApiKeyChanges {
  refuseUnknownFields(body, SETTINGS);
  const raw = body as Record<string, unknown> | null;
  const cleared = raw && typeof raw === 'object' ? Object.keys(raw).filter((k) => raw[k] === null) : [];
  const fixed = cleared.find((k) => !CLEARABLE.has(k));
  if (fixed) throw HerdError.badRequest(`${fixed} cannot be removed, only changed`);
  const dto = validateBody(PatchKeyDto, body);
  const out: ApiKeyChanges = {};
  for (const field of SETTINGS) if (dto[field] !== undefined) (out as Record<string, unknown>)[field] = dto[field];
  for (const field of cleared) (out as Record<string, unknown>)[field] = null;
  return out;
}
