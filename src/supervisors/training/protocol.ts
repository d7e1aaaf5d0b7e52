/** TrainingSupervisor messages (issue 7 places it; issue 9 runs the pipeline). */
export type TrainingCommand = {
  type: 'training.run.request';
  reason: 'drift' | 'performance' | 'manual';
  at: number;
};

export type TrainingEvent =
  | { type: 'training.run.started'; runId: string; reason: string }
  | { type: 'training.run.completed'; runId: string; modelVersion: string }
  | { type: 'training.run.failed'; runId: string; error: string };
