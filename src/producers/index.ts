export { DirSink } from './dir-sink.js';
export { type EnrollmentWriter, KafkaSink, type KafkaSinkOptions } from './kafka-sink.js';
export type { EventSink, SinkTarget } from './sink.js';
export { openSink, parseSinkTarget } from './target.js';
