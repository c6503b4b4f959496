/**
 * Log lines written to stdout once per event-loop turn instead of one write each. On Linux a piped stdout
 * is written synchronously, so a line per request cost about 0.1 ms of the event loop under load; a batch
 * costs one write. Lines still queued when the process exits are written then.
 */
let pending: string[] = [];
let scheduled = false;

function flush(): void {
  scheduled = false;
  if (pending.length === 0) return;
  const text = pending.join('');
  pending = [];
  process.stdout.write(text);
}

process.on('exit', flush);

export function writeStdoutLine(line: string): void {
  pending.push(line + '\n');
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
}
