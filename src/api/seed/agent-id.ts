import { createHash } from 'node:crypto';

/** Herd's own namespace for agent ids (a random v4 UUID fixed once): ids depend on nothing but the machine name. */
const AGENT_NAMESPACE = '5b0e6a8e-2f4c-4d1b-9a57-3c7e1f0d9b62';

/**
 * The Coordinator agent id of a machine: a name-based UUID (RFC 9562 version 5, SHA-1) of its machine name, so
 * registering the same machine again, on any replica, after any restart, gives the same id.
 */
export function agentIdFor(machineName: string): string {
  const hash = createHash('sha1').update(Buffer.from(AGENT_NAMESPACE.replace(/-/g, ''), 'hex')).update(machineName, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
