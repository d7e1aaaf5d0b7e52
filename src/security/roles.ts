/**
 * Roles and what each may do (docs/security.md). A route names one permission; a key carries one role.
 * Operators run the models and get no clinical data beyond predictions; coordinators see and
 * acknowledge alerts; readers only ask for predictions.
 */
export const ROLES = ['reader', 'coordinator', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export type Permission =
  | 'predict'
  | 'models.read'
  | 'models.write'
  | 'retrain'
  | 'alerts.read'
  | 'alerts.ack'
  | 'patients.read';

const GRANTS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  reader: new Set(['predict', 'models.read']),
  coordinator: new Set(['predict', 'models.read', 'alerts.read', 'alerts.ack', 'patients.read']),
  operator: new Set(['predict', 'models.read', 'models.write', 'retrain']),
  admin: new Set([
    'predict',
    'models.read',
    'models.write',
    'retrain',
    'alerts.read',
    'alerts.ack',
    'patients.read',
  ]),
};

export function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}

export function allows(role: Role, permission: Permission): boolean {
  return GRANTS[role].has(permission);
}
