/** Tenant user roles, weakest first: each role may do what the ones before it may. */
export const ROLES = ['viewer', 'member', 'admin'] as const;
/** The roles as one named enum of the OpenAPI document (one type in generated clients). */
export const ROLE_ENUM = { enum: ROLES, enumName: 'Role' };
export type Role = (typeof ROLES)[number];

/** True when `role` may do what `required` may. */
export function roleAtLeast(role: Role, required: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(required);
}
