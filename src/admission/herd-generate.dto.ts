import { IsOptional, IsString, ValidateIf } from 'class-validator';
import { RoutedDto } from './inference.dto';

/** Body of POST /ollama/generate: Ollama's generate request (prompt required here) plus Herd's `priority`. */
export class HerdGenerateDto extends RoutedDto {
  @IsString({ message: 'prompt is required and must be a string' })
  prompt!: string;

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
}
