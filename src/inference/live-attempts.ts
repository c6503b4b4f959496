import { Injectable } from '@nestjs/common';
import { FleetRegistry } from '../fleet/fleet-registry';
import type { Attempt } from '../relay/attempt';

/** One attempt in progress on a node, and how to stop it. */
export interface LiveAttempt {
  attempt: Attempt;
  controller: AbortController;
  /** Set when Herd stopped it because its node was found down (the request then moves to another node). */
  nodeGone: boolean;
}

/**
 * The attempts this replica has in progress on nodes. When the fleet changes, an attempt whose node is no longer
 * up and that has not sent the client anything yet is stopped, so its request moves on instead of waiting for a
 * node that will not answer.
 */
@Injectable()
export class LiveAttempts {
  private readonly byRequest = new Map<string, LiveAttempt>();

  constructor(private readonly fleet: FleetRegistry) {
    fleet.onChange(() => this.abandonOnDownNodes());
  }

  add(requestId: string, live: LiveAttempt): void {
    this.byRequest.set(requestId, live);
  }

  delete(requestId: string): void {
    this.byRequest.delete(requestId);
  }

  private abandonOnDownNodes(): void {
    for (const live of this.byRequest.values()) {
      // A node removed from the fleet lets its running requests finish (DELETE /herd/nodes); one found down does not.
      const name = live.attempt.grant.node;
      if (!live.attempt.committed && this.fleet.node(name) !== undefined && !this.fleet.isUp(name)) {
        live.nodeGone = true;
        live.controller.abort();
      }
    }
  }
}
