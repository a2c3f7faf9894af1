// The accounts global setup creates: one per role, and two analysts who
// have never signed in (for what a first sign-in does).
export const accounts = {
  admin: { role: 'admin', email: 'admin@example.com', password: 'admin password for e2e' },
  ops: { role: 'ops', email: 'ops@example.com', password: 'ops password for e2e' },
  analyst: { role: 'analyst', email: 'analyst@example.com', password: 'analyst password for e2e' },
  newcomer: { role: 'analyst', email: 'newcomer@example.com', password: 'newcomer password for e2e' },
  scriptless: {
    role: 'analyst',
    email: 'scriptless@example.com',
    password: 'scriptless password for e2e',
  },
} as const;

export type Role = keyof typeof accounts;
