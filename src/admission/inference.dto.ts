import { IsBoolean, IsInt, IsNotEmpty, IsObject, IsOptional, IsString, Max, Min } from 'class-validator';
import { IsMessageList, IsOpenAiInput, IsTextOrTexts } from './body-validators';
import { PRIORITY_MESSAGE } from './priority';

/** Fields every routed request shares: the model, and Herd's optional priority. */
export class RoutedDto {
  @IsString({ message: 'model is required' }) @IsNotEmpty({ message: 'model is required' })
  model!: string;

  @IsOptional() @IsInt({ message: PRIORITY_MESSAGE }) @Min(1, { message: PRIORITY_MESSAGE }) @Max(10, { message: PRIORITY_MESSAGE })
  priority?: number;

  @IsOptional() @IsObject({ message: 'options must be an object' })
  options?: Record<string, unknown>;

  @IsOptional() @IsBoolean({ message: 'stream must be true or false' })
  stream?: boolean;
}

export class GenerateDto extends RoutedDto {
  /** Absent or empty: Ollama only loads (or with keep_alive 0 unloads) the model. */
  @IsOptional() @IsString({ message: 'prompt must be a string' })
  prompt?: string;

  @IsOptional() @IsString({ message: 'system must be a string' })
  system?: string;

  @IsOptional() @IsString({ message: 'suffix must be a string' })
  suffix?: string;
}

export class ChatMessageShape {
  role!: string;
  /** A string in Ollama; OpenAI also allows content parts (an array) or null. */
  content?: unknown;
}

export class ChatDto extends RoutedDto {
  @IsOptional() @IsMessageList(false, { message: 'messages must be an array of {role, content} objects with string role and content' })
  messages?: ChatMessageShape[];
}

export class EmbedDto extends RoutedDto {
  @IsTextOrTexts({ message: 'input must be a string or an array of strings' })
  input!: string | string[];
}

export class EmbeddingsDto extends RoutedDto {
  @IsOptional() @IsString({ message: 'prompt must be a string' })
  prompt?: string;
}

/** OpenAI-style bodies: `max_tokens` plays num_predict's part; `stream` defaults to false there. */
export class OpenAiChatDto extends RoutedDto {
  @IsMessageList(true, { message: 'messages must be an array of message objects, each with a string role' })
  messages!: ChatMessageShape[];

  @IsOptional() @IsInt({ message: 'max_tokens must be an integer' }) @Min(1, { message: 'max_tokens must be at least 1' })
  max_tokens?: number;
}

export class OpenAiCompletionDto extends RoutedDto {
  @IsOpenAiInput({ message: 'prompt must be a string, an array of strings, or token ids' })
  prompt!: string | string[] | number[] | number[][];

  @IsOptional() @IsInt({ message: 'max_tokens must be an integer' }) @Min(1, { message: 'max_tokens must be at least 1' })
  max_tokens?: number;
}

export class OpenAiEmbeddingsDto extends RoutedDto {
  @IsOpenAiInput({ message: 'input must be a string, an array of strings, or token ids' })
  input!: string | string[] | number[] | number[][];
}
