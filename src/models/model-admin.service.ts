import { Inject, Injectable } from '@nestjs/common';
import type { Readable } from 'node:stream';
import type { Response } from 'express';
import { CanceledError, HerdError } from '../common/herd-error';
import { Logger } from '../common/logger';
import { HERD_CONFIG, type HerdConfig, type NodeConfig } from '../config/herd-config';
import { FleetRegistry } from '../fleet/fleet-registry';
import { NodeHealthService } from '../fleet/node-health.service';
import { errorText, failureError, fanOut, relayProgress, transportOutcome, type AdminTimeouts } from '../relay/progress-relay';
import { findModel, spellingForNode } from '../scheduler';
import { OllamaNodeClient, type UpstreamRequest, type UpstreamResponse } from '../upstream/ollama-node.client';

const DIGEST = /^sha256[:-][0-9a-f]{64}$/;

/** Whether `from` names a blob (a digest) rather than a model. */
export function isDigest(value: string): boolean {
  return DIGEST.test(value);
}

function byName(a: NodeConfig, b: NodeConfig): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Ollama's model-admin operations for a fleet. Pull goes to every node (progress merged into one stream);
 * delete and copy to every node that has the model; create and blob uploads to one pinned node, so a
 * create finds the blobs uploaded for it; push to one node that has the model. After a change the fleet
 * is polled at once, so a pulled or created model is routable as soon as the client sees success.
 */
@Injectable()
export class ModelAdminService {
  constructor(
    private readonly fleet: FleetRegistry,
    private readonly health: NodeHealthService,
    private readonly client: OllamaNodeClient,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
    private readonly log: Logger,
  ) {}

  /** Every reachable node (or the named ones) pulls; one merged progress stream. */
  async pull(res: Response, signal: AbortSignal, body: Record<string, unknown>, stream: boolean, nodeNames: string[]): Promise<void> {
    const nodes = this.targetNodes(nodeNames);
    res.setHeader('X-Herd-Node', nodes.map((n) => n.name).join(','));
    await relayProgress(this.client, this.progressTimeouts(), { path: '/api/pull', body, nodes, stream, fanOut: true, afterAll: () => this.poll() }, res, signal);
  }

  /** One node that has the model pushes it; its progress is streamed back. */
  async push(res: Response, signal: AbortSignal, body: Record<string, unknown>, stream: boolean, model: string, field: string): Promise<void> {
    const node = this.nodesHaving(model)[0];
    if (!node) throw new HerdError(404, 'HERD_MODEL_NOT_FOUND', `model "${model}" not found`);
    res.setHeader('X-Herd-Node', node.name);
    await relayProgress(this.client, this.progressTimeouts(), { path: '/api/push', body: this.spelledFor(node, body, field, model), nodes: [node], stream, fanOut: false }, res, signal);
  }

  /** On the pinned node (where the blobs went), or where the base model is; progress streamed back. */
  async create(res: Response, signal: AbortSignal, body: Record<string, unknown>, stream: boolean, from: string | undefined, nodeName: string | undefined): Promise<void> {
    const node = this.createNode(nodeName, body, from);
    res.setHeader('X-Herd-Node', node.name);
    const sent = from === undefined || isDigest(from) ? body : this.spelledFor(node, body, 'from', from);
    await relayProgress(this.client, this.progressTimeouts(), { path: '/api/create', body: sent, nodes: [node], stream, fanOut: false, afterAll: () => this.poll() }, res, signal);
  }

  /**
   * Delete or copy on every reachable node. Each node is asked (a node without the model answers 404, which
   * only means "not here"), so a model pulled since the last poll is not missed.
   */
  async everywhere(res: Response, signal: AbortSignal, method: 'POST' | 'DELETE', path: string, body: Record<string, unknown>, model: string, field: string): Promise<void> {
    const nodes = this.reachable();
    if (nodes.length === 0) throw new HerdError(503, 'HERD_UPSTREAM_UNREACHABLE', 'herd: no node is reachable', 5);
    // Each node gets the model under its own spelling.
    const outcomes = (
      await Promise.all(nodes.map((node) => fanOut(this.client, this.plainTimeouts(), [node], { method, path, body: this.spelledFor(node, body, field, model) }, signal)))
    ).flat();
    const done = outcomes.filter((o) => o.ok);
    const failed = outcomes.filter((o) => !o.ok && o.status !== 404);
    if (done.length > 0) await this.poll();
    if (failed.length > 0) throw failureError(failed, true);
    if (done.length === 0) {
      // Every node said 404; a 400 (bad name) from all of them would have been a failure above.
      throw new HerdError(404, 'HERD_MODEL_NOT_FOUND', `model "${model}" not found`);
    }
    res.setHeader('X-Herd-Node', done.map((o) => o.node).join(','));
    res.status(200).end();
  }

  /** Whether the pinned node has the blob (200 / 404). */
  async headBlob(res: Response, signal: AbortSignal, digest: string, nodeName: string | undefined): Promise<void> {
    const node = this.pinnedNode(nodeName);
    const upstream = await this.send(node, { method: 'HEAD', path: `/api/blobs/${digest}`, signal, headersTimeoutMs: this.config.firstByteTimeoutMs, bodyTimeoutMs: this.config.idleTimeoutMs });
    await upstream.body.dump().catch(() => undefined);
    res.status(upstream.statusCode).setHeader('X-Herd-Node', node.name);
    res.end();
  }

  /** The blob streams through to the pinned node as it arrives, never held whole in memory. */
  async postBlob(res: Response, signal: AbortSignal, digest: string, nodeName: string | undefined, blob: Readable, headers: Record<string, string>): Promise<void> {
    const node = this.pinnedNode(nodeName);
    const upstream = await this.send(node, {
      method: 'POST',
      path: `/api/blobs/${digest}`,
      body: blob,
      headers,
      signal,
      // The node answers once the whole body is in; undici restarts this clock while the upload makes progress.
      headersTimeoutMs: this.config.requestTimeoutMs,
      bodyTimeoutMs: this.config.idleTimeoutMs,
    });
    const text = await upstream.body.text();
    res.status(upstream.statusCode).setHeader('X-Herd-Node', node.name);
    if (text) res.type(upstream.headers['content-type'] === undefined ? 'application/json' : String(upstream.headers['content-type'])).send(text);
    else res.end();
  }

  private reachable(): NodeConfig[] {
    return this.fleet.upNodes().slice().sort(byName);
  }

  /** Nodes a pull goes to: the named ones (each must exist), else every reachable node. */
  private targetNodes(names: string[]): NodeConfig[] {
    if (names.length === 0) {
      const nodes = this.reachable();
      if (nodes.length === 0) throw new HerdError(503, 'HERD_UPSTREAM_UNREACHABLE', 'herd: no node is reachable', 5);
      return nodes;
    }
    const unknown = names.filter((n) => !this.fleet.node(n));
    if (unknown.length > 0) throw HerdError.badRequest(`herd: no node named ${unknown.map((n) => `"${n}"`).join(', ')}`);
    return [...new Set(names)].map((n) => this.fleet.node(n)!);
  }

  /** Blobs and creates meet on one node: the named one, else the first reachable node by name. */
  private pinnedNode(named: string | undefined): NodeConfig {
    if (named) {
      const node = this.fleet.node(named);
      if (!node) throw HerdError.badRequest(`herd: no node named "${named}"`);
      return node;
    }
    const first = this.reachable()[0];
    if (!first) throw new HerdError(503, 'HERD_UPSTREAM_UNREACHABLE', 'herd: no node is reachable', 5);
    return first;
  }

  /**
   * The pinned node, except for a create that only derives from an existing model (no blobs): that goes to
   * the first reachable node that has the base model when the pinned one does not.
   */
  private createNode(named: string | undefined, body: Record<string, unknown>, from: string | undefined): NodeConfig {
    const pinned = this.pinnedNode(named);
    if (named || from === undefined || isDigest(from)) return pinned;
    const usesBlobs = [body.files, body.adapters].some((m) => m && typeof m === 'object' && Object.keys(m).length > 0);
    if (usesBlobs) return pinned;
    const having = this.nodesHaving(from);
    return having.some((n) => n.name === pinned.name) ? pinned : (having[0] ?? pinned);
  }

  /** Reachable nodes whose last poll listed the model, by name. */
  private nodesHaving(model: string): NodeConfig[] {
    return this.reachable().filter((n) => findModel(this.fleet.health(n.name)?.models ?? [], model) !== undefined);
  }

  /**
   * The body for one node, with `field` (which names `model`) spelled as that node lists the model: a node
   * that stores names case-sensitively finds only its own spelling. Unchanged when the node does not list it.
   */
  private spelledFor(node: NodeConfig, body: Record<string, unknown>, field: string, model: string): Record<string, unknown> {
    const spelling = spellingForNode(model, this.fleet.modelNameOn(node.name, model));
    return spelling === undefined ? body : { ...body, [field]: spelling };
  }

  private async send(node: NodeConfig, request: UpstreamRequest): Promise<UpstreamResponse> {
    try {
      return await this.client.request(node, request);
    } catch (err) {
      if (request.signal?.aborted) throw new CanceledError();
      const outcome = transportOutcome(err, node.name);
      throw new HerdError(outcome.status, 'HERD_UPSTREAM_ERROR', `node ${node.name}: ${outcome.error ?? errorText('', outcome.status)}`);
    }
  }

  /** Polls every node now so tags and routing see the change at once; a failed poll is not the client's problem. */
  private async poll(): Promise<void> {
    try {
      await this.health.poll();
    } catch (err) {
      this.log.warn('fleet poll after a model change failed', { error: (err as Error).message });
    }
  }

  /** Progress streams: long silences happen (digest checks of big layers), so the whole-request timeout applies. */
  private progressTimeouts(): AdminTimeouts {
    return { headersTimeoutMs: this.config.firstByteTimeoutMs, bodyTimeoutMs: this.config.requestTimeoutMs };
  }

  private plainTimeouts(): AdminTimeouts {
    return { headersTimeoutMs: this.config.requestTimeoutMs, bodyTimeoutMs: this.config.idleTimeoutMs };
  }
}
