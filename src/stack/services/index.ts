/**
 * Every service of the local stack. The manager orders them by `dependsOn`; this list's order only
 * decides how `status` breaks ties.
 */
import type { ServiceDef } from '../types.js';
import { alertmanager } from './alertmanager.js';
import { kafka } from './kafka.js';
import { minio } from './minio.js';
import { mlflow } from './mlflow.js';
import { postgres } from './postgres.js';
import { prometheus } from './prometheus.js';
import { redis } from './redis.js';

export const SERVICES: readonly ServiceDef[] = [
  postgres,
  redis,
  kafka,
  minio,
  mlflow,
  prometheus,
  alertmanager,
];
