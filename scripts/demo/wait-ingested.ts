/**
 * Waits until a consumer group has committed every offset of the given topics (lag 0), printing
 * progress; exits 1 after --timeout seconds. The demo uses it to know when the ingester has
 * written everything the simulator produced into the bronze lake.
 */
import { parseArgs } from 'node:util';
import { loadStackConfig } from '../../src/stack/config.js';
import { stackKafka } from '../../src/stack/kafka-topics.js';

const { values } = parseArgs({
  options: {
    group: { type: 'string', default: 'aepred-ingest' },
    topics: { type: 'string', default: 'patient-vitals,lab-results,medications,adverse-events' },
    timeout: { type: 'string', default: '600' },
  },
});
const topics = values.topics.split(',');
const admin = stackKafka(loadStackConfig(), 'aepred-demo-wait').admin();
await admin.connect();
const deadline = Date.now() + Number(values.timeout) * 1000;
let lastLine = '';
try {
  for (;;) {
    let end = 0;
    let committed = 0;
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      end += ends.reduce((s, p) => s + Number(p.high), 0);
      const [group] = await admin.fetchOffsets({ groupId: values.group, topics: [topic] });
      committed += (group?.partitions ?? []).reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
    }
    const line = `ingested ${committed}/${end} records (lag ${end - committed})`;
    if (line !== lastLine) process.stdout.write(`${line}\n`);
    lastLine = line;
    if (end > 0 && committed >= end) break;
    if (Date.now() > deadline) {
      process.stderr.write(`wait-ingested: still lagging after ${values.timeout}s\n`);
      process.exitCode = 1;
      break;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
} finally {
  await admin.disconnect();
}
