import { IsBoolean, IsInt, IsNotEmpty, IsObject, IsOptional, IsString, Max, Min, ValidateIf } from 'class-validator';
import { PRIORITY_MESSAGE } from '../../common/priority';

/** Body of POST /ollama/generate: Ollama's generate request plus Herd's `priority`. */
export class HerdGenerateDto {
  @IsString({ message: 'model is required' }) @IsNotEmpty({ message: 'model is required' })
  model!: string;

  @IsString({ message: 'prompt is required and must be a string' })
  prompt!: string;

  @IsOptional() @IsInt({ message: PRIORITY_MESSAGE }) @Min(1, { message: PRIORITY_MESSAGE }) @Max(10, { message: PRIORITY_MESSAGE })
  priority?: number;

  @IsOptional() @IsObject({ message: 'options must be an object' })
  options?: Record<string, unknown>;

  @IsOptional() @IsString({ message: 'system must be a string' })
  system?: string;

  @IsOptional()
  @ValidateIf((o: HerdGenerateDto) => typeof o.format !== 'object')
  @IsString({ message: 'format must be "json" or a JSON schema object' })
  format?: string | Record<string, unknown>;

  @IsOptional()
  @ValidateIf((o: HerdGenerateDto) => typeof o.keep_alive !== 'number')
  @IsString({ message: 'keep_alive must be a duration like "5m" or a number of seconds' })
  keep_alive?: string | number;

  @IsOptional() @IsBoolean({ message: 'stream must be true or false' })
  stream?: boolean;
}
