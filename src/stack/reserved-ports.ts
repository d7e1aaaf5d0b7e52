/**
 * Keeps the kernel from handing out the stack's ports as ephemeral ports.
 *
 * Every port of ops/local/stack.yaml (55000-59099) lies in Linux's default ephemeral range
 * (32768-60999). A socket the kernel gives one of them as its local port (an outgoing connection,
 * or a listener bound to port 0) holds it: fresh-clone CI rehearsals on 2026-11-27 failed on
 * "port 58080 is taken" (two integration tests) and "port 59094 ... is already in use by another
 * process" (at stack up) while nothing of ours listened there. Ports listed in
 * `net.ipv4.ip_local_reserved_ports` are never chosen automatically and can still be bound
 * explicitly. `aepred stack up` adds the stack's ports to that list when it may write it (root,
 * writable /proc/sys), and says so when it may not.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { StackConfig } from './config.js';
import { testSlackPort } from './template.js';

export const RESERVED_PORTS_FILE = '/proc/sys/net/ipv4/ip_local_reserved_ports';

/** The ports of a `ip_local_reserved_ports` value ("8080,55000-55002"). */
export function parseReserved(text: string): Set<number> {
  const out = new Set<number>();
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const lo = Number(m[1]);
    const hi = Number(m[2] ?? m[1]);
    for (let p = lo; p <= hi; p++) out.add(p);
  }
  return out;
}

/** Ports as a sorted list of ranges ("55000,55432,59000-59001"). */
export function formatReserved(ports: Iterable<number>): string {
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === (sorted[j] ?? 0) + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Every port the stack's services, the service and the stack's test endpoints listen on. */
export function stackPorts(config: StackConfig, servicePorts: readonly number[]): number[] {
  const t = config.test_endpoints;
  return [...servicePorts, config.aepred.port, t.scrape_port, t.webhook_port, testSlackPort(config)];
}

/**
 * Adds `ports` to the reserved list. Returns the ports added (none when all were reserved), or why
 * it could not (not Linux, not root, read-only).
 */
export function reservePorts(
  ports: readonly number[],
  file = RESERVED_PORTS_FILE,
): { added: number[] } | { skipped: string } {
  let current: Set<number>;
  try {
    current = parseReserved(readFileSync(file, 'utf8'));
  } catch (e) {
    return { skipped: `cannot read ${file}: ${(e as Error).message}` };
  }
  const added = [...new Set(ports)].filter((p) => !current.has(p)).sort((a, b) => a - b);
  if (added.length === 0) return { added };
  try {
    writeFileSync(file, `${formatReserved([...current, ...added])}\n`);
  } catch (e) {
    return { skipped: `cannot write ${file}: ${(e as Error).message}` };
  }
  return { added };
}
