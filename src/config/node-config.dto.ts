import { IsInt, IsNumber, IsObject, IsOptional, IsPositive, IsString, Matches, Max, Min } from 'class-validator';

/** One entry of containers.config.json. */
export class NodeConfigDto {
  // A name becomes a key in objects and Redis hashes: `__proto__` and friends are refused like in request bodies.
  @IsString()
  @Matches(/^(?!(__proto__|constructor|prototype)$)[A-Za-z0-9_.:-]{1,64}$/, { message: 'name must be 1-64 letters, digits, _ . : or - (and not __proto__, constructor or prototype)' })
  name!: string;

  @Matches(/^https?:\/\/[^\s/]+(:\d+)?\/?$/, { message: 'url must look like http://host:11434' })
  url!: string;

  @IsOptional() @IsInt() @Min(1) @Max(1024)
  slots?: number;

  @IsOptional() @IsNumber() @IsPositive()
  weight?: number;

  @IsOptional() @IsNumber() @IsPositive()
  memoryGb?: number;

  @IsOptional() @IsNumber() @IsPositive()
  tokensPerSecond?: number;

  @IsOptional() @IsInt() @Min(0) @Max(100_000)
  promptCacheEntries?: number;

  @IsOptional() @IsObject()
  labels?: Record<string, string>;
}
