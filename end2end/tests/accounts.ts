// The accounts global setup creates, one per role.
export const accounts = {
  admin: { email: 'admin@example.com', password: 'admin password for e2e' },
  ops: { email: 'ops@example.com', password: 'ops password for e2e' },
  analyst: { email: 'analyst@example.com', password: 'analyst password for e2e' },
} as const;

export type Role = keyof typeof accounts;
