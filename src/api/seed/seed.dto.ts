import { IsInt, IsIP, IsNumber, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min } from 'class-validator';
import { IsMessageList } from '../../admission/body-validators';
import { RoutedDto, type ChatMessageShape } from '../../admission/inference.dto';

/** Cluster LLM's POST /chat and /chat/stream: a prompt, or messages (or both: the prompt is the newest user turn). */
export class ClusterChatDto extends RoutedDto {
  @IsOptional() @IsString({ message: 'prompt must be a string' })
  prompt?: string;

  @IsOptional() @IsMessageList(false, { message: 'messages must be an array of {role, content} objects with string role and content' })
  messages?: ChatMessageShape[];
}

/** Ollama Connector's POST /jobs: Ollama's /api/generate with a prompt required. */
export class ConnectorJobDto extends RoutedDto {
  @IsString({ message: 'prompt is required and must be a string' })
  prompt!: string;
}

const MACHINE_NAME_MESSAGE = 'machine_name must be 1-64 letters, digits, _ . : or - (it becomes the node name)';

/** Ollama Coordinator's POST /api/agents. */
export class RegisterAgentDto {
  @IsString({ message: MACHINE_NAME_MESSAGE })
  @Matches(/^(?!(__proto__|constructor|prototype)$)[A-Za-z0-9_.:-]{1,64}$/, { message: MACHINE_NAME_MESSAGE })
  machine_name!: string;

  // No zone ids (fe80::1%eth0): the address must make a plain URL.
  @IsIP(undefined, { message: 'ip_address must be an IPv4 or IPv6 address' }) @Matches(/^[0-9A-Fa-f:.]+$/, { message: 'ip_address must be an IPv4 or IPv6 address' })
  ip_address!: string;

  @IsOptional() @IsString({ message: 'ollama_version must be a string' }) @MaxLength(64, { message: 'ollama_version must be at most 64 characters' })
  ollama_version?: string;

  @IsInt({ message: 'ollama_port must be an integer from 1 to 65535' }) @Min(1, { message: 'ollama_port must be an integer from 1 to 65535' }) @Max(65535, { message: 'ollama_port must be an integer from 1 to 65535' })
  ollama_port!: number;
}

/** Ollama Coordinator's POST /api/health: an agent's periodic report, Herd's heartbeat for its node. */
export class AgentHealthDto {
  @IsUUID('all', { message: 'agent_id must be a UUID' })
  agent_id!: string;

  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'cpu_usage must be a percentage from 0 to 100' }) @Min(0, { message: 'cpu_usage must be a percentage from 0 to 100' }) @Max(100, { message: 'cpu_usage must be a percentage from 0 to 100' })
  cpu_usage?: number;

  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'memory_usage must be a percentage from 0 to 100' }) @Min(0, { message: 'memory_usage must be a percentage from 0 to 100' }) @Max(100, { message: 'memory_usage must be a percentage from 0 to 100' })
  memory_usage?: number;

  @IsOptional() @IsInt({ message: 'active_requests must be an integer from 0 to 1000000' }) @Min(0, { message: 'active_requests must be an integer from 0 to 1000000' }) @Max(1_000_000, { message: 'active_requests must be an integer from 0 to 1000000' })
  active_requests?: number;
}
