import { AssignerProtocol, type PartitionAssigner, Partitioners } from 'kafkajs';

/**
 * Placement (issue 7): a patient's four topics are keyed by patient id and have the same partition
 * count, so partition p of every topic holds the same patients. kafkajs's default round-robin
 * assigner would spread patient-vitals/3 and lab-results/3 over two replicas, and a patient would
 * get two actors; this assigner gives partition p of every subscribed topic to one member
 * (sorted member ids, p mod members), so a replica owns whole patients.
 */
export const CO_PARTITIONED = 'aepred-copartitioned';

export const coPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: CO_PARTITIONED,
  version: 1,
  async assign({ members, topics }) {
    const ids = members.map((m) => m.memberId).sort();
    const plan = new Map<string, Record<string, number[]>>(ids.map((id) => [id, {}]));
    for (const topic of topics) {
      const parts = cluster
        .findTopicPartitionMetadata(topic)
        .map((m) => m.partitionId)
        .sort((a, b) => a - b);
      for (const p of parts) {
        const owner = plan.get(ids[p % ids.length]!)!;
        const list = owner[topic] ?? [];
        list.push(p);
        owner[topic] = list;
      }
    }
    return ids.map((memberId) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 1,
        assignment: plan.get(memberId)!,
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol({ topics }) {
    return {
      name: CO_PARTITIONED,
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
    };
  },
});

/** The producers' partition for a key: kafkajs's default (Java-compatible murmur2) partitioner. */
export function partitionOfKey(key: string, partitions: number): number {
  const pick = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({
    partitionId: i,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));
  return pick({ topic: 'x', partitionMetadata, message: { key, value: null } });
}
