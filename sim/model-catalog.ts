import { sha256Hex } from './hash';
import { baseModelName, modelKey, modelTag, normaliseModelName } from './model-names';
import type { SimModel } from './types';

/** Everything the simulator reports about one model it has on disk. */
export interface ModelEntry {
  /** Normalised name, e.g. 'llama3:latest'. */
  name: string;
  key: string;
  sizeBytes: number;
  family: string;
  parameterSize: string;
  quantization: string;
  embeddingDims: number;
  contextLength: number;
  /** Embedding-only models refuse generate and chat, like Ollama does. */
  embeddingOnly: boolean;
  digest: string;
  modifiedAt: Date;
  parentModel: string;
  system?: string;
  template: string;
}

interface KnownModel {
  prefix: string;
  family: string;
  parameterSize: string;
  sizeBytes: number;
  quantization: string;
  contextLength: number;
  embeddingDims?: number;
}

/** Real figures of a few popular library models, so tags/show look familiar. First matching prefix wins. */
const KNOWN_MODELS: readonly KnownModel[] = [
  { prefix: 'llama3.2', family: 'llama', parameterSize: '3.2B', sizeBytes: 2_019_393_189, quantization: 'Q4_K_M', contextLength: 131_072 },
  // Hugging Face GGUF, as `ollama pull hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M` lists it (mixed case kept).
  { prefix: 'llama-3.2-1b-instruct', family: 'llama', parameterSize: '1.2B', sizeBytes: 807_694_464, quantization: 'Q4_K_M', contextLength: 131_072 },
  { prefix: 'llama3.1', family: 'llama', parameterSize: '8.0B', sizeBytes: 4_920_753_328, quantization: 'Q4_K_M', contextLength: 131_072 },
  { prefix: 'llama3', family: 'llama', parameterSize: '8.0B', sizeBytes: 4_661_224_676, quantization: 'Q4_0', contextLength: 8192 },
  { prefix: 'qwen2.5', family: 'qwen2', parameterSize: '7.6B', sizeBytes: 4_683_087_332, quantization: 'Q4_K_M', contextLength: 32_768 },
  { prefix: 'qwen3', family: 'qwen3', parameterSize: '8.2B', sizeBytes: 5_225_388_164, quantization: 'Q4_K_M', contextLength: 40_960 },
  { prefix: 'mistral', family: 'llama', parameterSize: '7.2B', sizeBytes: 4_113_301_824, quantization: 'Q4_0', contextLength: 32_768 },
  { prefix: 'gemma3', family: 'gemma3', parameterSize: '4.3B', sizeBytes: 3_338_801_804, quantization: 'Q4_K_M', contextLength: 131_072 },
  { prefix: 'gemma2', family: 'gemma2', parameterSize: '9.2B', sizeBytes: 5_443_152_417, quantization: 'Q4_0', contextLength: 8192 },
  { prefix: 'phi3', family: 'phi3', parameterSize: '3.8B', sizeBytes: 2_176_178_913, quantization: 'Q4_0', contextLength: 131_072 },
  { prefix: 'nomic-embed-text', family: 'nomic-bert', parameterSize: '137M', sizeBytes: 274_302_450, quantization: 'F16', contextLength: 2048, embeddingDims: 768 },
  { prefix: 'mxbai-embed-large', family: 'bert', parameterSize: '334M', sizeBytes: 669_615_493, quantization: 'F16', contextLength: 512, embeddingDims: 1024 },
  { prefix: 'all-minilm', family: 'bert', parameterSize: '23M', sizeBytes: 45_960_996, quantization: 'F16', contextLength: 512, embeddingDims: 384 },
];

export const DEFAULT_EMBEDDING_DIMS = 384;

const LLAMA3_TEMPLATE =
  '{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}' +
  '{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>{{ end }}' +
  '<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>';

/** Parameter count from a tag such as '7b', '0.5b', '70b-instruct-q4_K_M'. */
function parameterSizeFromTag(tag: string): string | undefined {
  const m = /(?:^|[-_])(\d+(?:\.\d+)?)([bm])(?:$|[-_])/i.exec(tag);
  if (!m) return undefined;
  return `${m[1]}${m[2].toUpperCase()}`;
}

/** Rough Q4 file size for a parameter size like '7B' or '137M'. */
function sizeFromParameterSize(parameterSize: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([BM])$/i.exec(parameterSize);
  if (!m) return undefined;
  const params = Number(m[1]) * (m[2].toUpperCase() === 'B' ? 1e9 : 1e6);
  return Math.round(params * 0.6);
}

export function isEmbeddingFamily(name: string, family: string): boolean {
  return /bert/i.test(family) || /embed/i.test(baseModelName(name));
}

/** Fills in every detail of a configured model: given values win, then known figures, then guesses from the name. */
export function describeModel(model: SimModel, modifiedAt: Date, digest?: string): ModelEntry {
  const name = normaliseModelName(model.name);
  const base = baseModelName(name).toLowerCase();
  const tag = modelTag(name);
  const known = KNOWN_MODELS.find((k) => base.startsWith(k.prefix));
  const tagSize = parameterSizeFromTag(tag);
  const family = model.family ?? known?.family ?? (base.replace(/[^a-z0-9-]+$/, '') || 'llama');
  const parameterSize = model.parameterSize ?? tagSize ?? known?.parameterSize ?? '7B';
  const sizeBytes =
    model.sizeBytes ??
    (tagSize && tagSize !== known?.parameterSize ? sizeFromParameterSize(tagSize) : undefined) ??
    known?.sizeBytes ??
    sizeFromParameterSize(parameterSize) ??
    4_000_000_000;
  const embeddingOnly = isEmbeddingFamily(name, family);
  return {
    name,
    key: modelKey(name),
    sizeBytes,
    family,
    parameterSize,
    quantization: model.quantization ?? known?.quantization ?? 'Q4_K_M',
    embeddingDims: model.embeddingDims ?? known?.embeddingDims ?? DEFAULT_EMBEDDING_DIMS,
    contextLength: known?.contextLength ?? 8192,
    embeddingOnly,
    digest: digest ?? sha256Hex(name),
    modifiedAt,
    parentModel: '',
    template: embeddingOnly ? '{{ .Prompt }}' : LLAMA3_TEMPLATE,
  };
}

export function modelDetails(entry: ModelEntry): Record<string, unknown> {
  return {
    parent_model: entry.parentModel,
    format: 'gguf',
    family: entry.family,
    families: [entry.family],
    parameter_size: entry.parameterSize,
    quantization_level: entry.quantization,
  };
}

/** One row of /api/tags. */
export function tagsRow(entry: ModelEntry): Record<string, unknown> {
  return {
    name: entry.name,
    model: entry.name,
    modified_at: entry.modifiedAt.toISOString(),
    size: entry.sizeBytes,
    digest: entry.digest,
    details: modelDetails(entry),
  };
}

function parameterCount(parameterSize: string): number {
  const m = /^(\d+(?:\.\d+)?)([BMK])$/i.exec(parameterSize);
  if (!m) return 7_000_000_000;
  const unit = m[2].toUpperCase();
  const scale = unit === 'B' ? 1e9 : unit === 'M' ? 1e6 : 1e3;
  return Math.round(Number(m[1]) * scale);
}

/** Body of /api/show. */
export function showBody(entry: ModelEntry): Record<string, unknown> {
  const arch = entry.family;
  const modelfile =
    '# Modelfile generated by "ollama show"\n' +
    '# To build a new Modelfile based on this, replace FROM with:\n' +
    `# FROM ${entry.name}\n\n` +
    `FROM /root/.ollama/models/blobs/sha256-${entry.digest}\n` +
    `TEMPLATE """${entry.template}"""\n` +
    (entry.embeddingOnly ? '' : 'PARAMETER stop <|start_header_id|>\nPARAMETER stop <|end_header_id|>\nPARAMETER stop <|eot_id|>\n');
  const parameters = entry.embeddingOnly
    ? `num_ctx                        ${entry.contextLength}`
    : 'stop                           "<|start_header_id|>"\nstop                           "<|end_header_id|>"\nstop                           "<|eot_id|>"';
  const body: Record<string, unknown> = {
    license: 'Simulated model for Herd tests; no weights.',
    modelfile,
    parameters,
    template: entry.template,
    details: modelDetails(entry),
    model_info: {
      'general.architecture': arch,
      'general.file_type': 2,
      'general.parameter_count': parameterCount(entry.parameterSize),
      'general.quantization_version': 2,
      [`${arch}.context_length`]: entry.contextLength,
      [`${arch}.embedding_length`]: entry.embeddingDims,
      [`${arch}.block_count`]: 32,
      [`${arch}.attention.head_count`]: 32,
      'tokenizer.ggml.model': entry.embeddingOnly ? 'bert' : 'gpt2',
      'tokenizer.ggml.tokens': [],
    },
    capabilities: entry.embeddingOnly ? ['embedding'] : ['completion'],
    modified_at: entry.modifiedAt.toISOString(),
  };
  if (entry.system !== undefined) body.system = entry.system;
  return body;
}
