/** Model-performance and drift monitoring (issue 9): pure computations, decay rules, gauges. */
export * from './buckets.js';
export * from './drift.js';
export * from './metrics.js';
export * from './performance.js';
export * from './rules.js';
