import { Inject, Injectable } from '@nestjs/common';
import { HerdError } from '../common/herd-error';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { Listeners } from '../common/listeners';
import type { Grant } from '../placement/grant';
import { LeaseKeeper } from '../placement/lease-keeper';
import { HandoffRepository } from './handoff.repository';

type Message =
  | { t: 'grant'; grant: Grant }
  | { t: 'fail'; id: string; status: number; code: HerdError['code']; message: string };

interface Pending {
  resolve: (g: Grant) => void;
  reject: (e: Error) => void;
}

/**
 * Carries grants (or a placement failure) from the replica whose worker placed a ticket to the replica holding
 * the client connection, and cancellations to whoever is placing. Inside one replica it is a function call;
 * across replicas, Redis pub/sub on a channel per replica.
 */
@Injectable()
export class Handoff {
  private readonly grants = new Map<string, Pending>();
  private readonly cancelListeners = new Listeners<[string]>();
  private readonly replicaId: string;

  constructor(
    private readonly repo: HandoffRepository,
    /** Takes back the slot of a grant nobody here waits for any more (cancelled, timed out). */
    private readonly leases: LeaseKeeper,
    @Inject(HERD_CONFIG) config: HerdConfig,
  ) {
    this.replicaId = config.replicaId;
  }

  async start(): Promise<void> {
    await this.repo.listen(this.replicaId, {
      message: (raw) => this.receive(JSON.parse(raw) as Message),
      cancel: (id) => this.cancelListeners.emit(id),
    });
  }

  private receive(msg: Message): void {
    switch (msg.t) {
      case 'grant': {
        const p = this.grants.get(msg.grant.requestId);
        this.grants.delete(msg.grant.requestId);
        if (p) p.resolve(msg.grant);
        else void this.leases.dropOrphan(msg.grant);
        return;
      }
      case 'fail': {
        const p = this.grants.get(msg.id);
        this.grants.delete(msg.id);
        p?.reject(new HerdError(msg.status, msg.code, msg.message));
        return;
      }
    }
  }

  /** Origin side: a promise for the grant of a request about to be enqueued. */
  expectGrant(id: string): Promise<Grant> {
    return new Promise((resolve, reject) => this.grants.set(id, { resolve, reject }));
  }

  /** Origin side: stop waiting (cancelled or timed out). A grant arriving later is an orphan: its slot is given back. */
  forget(id: string): void {
    this.grants.delete(id);
  }

  /** Worker side: hands the grant to the origin replica. False when nobody is there to take it. */
  async deliver(origin: string, grant: Grant): Promise<boolean> {
    if (origin === this.replicaId) {
      const p = this.grants.get(grant.requestId);
      this.grants.delete(grant.requestId);
      p?.resolve(grant);
      return p !== undefined;
    }
    const receivers = await this.repo.sendToReplica(origin, JSON.stringify({ t: 'grant', grant } satisfies Message));
    return receivers > 0;
  }

  /** Worker side: placement failed for good; the origin answers its client with this error. */
  async fail(origin: string, id: string, err: HerdError): Promise<void> {
    if (origin === this.replicaId) {
      const p = this.grants.get(id);
      this.grants.delete(id);
      p?.reject(err);
      return;
    }
    const msg: Message = { t: 'fail', id, status: err.status, code: err.code, message: err.message };
    await this.repo.sendToReplica(origin, JSON.stringify(msg));
  }

  onCancel(fn: (id: string) => void): void {
    this.cancelListeners.add(fn);
  }

  /**
   * Origin side: the client of a request whose job was already taken went away. A worker that takes the job later
   * finds the marker and drops it; whoever is placing it now (here or on another replica) stops.
   */
  async cancel(id: string, markerTtlMs: number): Promise<void> {
    await this.repo.markCanceled(id, markerTtlMs);
    this.cancelListeners.emit(id);
    await this.repo.broadcastCancel(id);
  }

  /** Worker side: whether the request's client went away before its job was taken. */
  isCanceled(id: string): Promise<boolean> {
    return this.repo.isCanceled(id);
  }
}
