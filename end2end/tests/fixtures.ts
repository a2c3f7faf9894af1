import { test as base } from '@playwright/test';

// The server's address is known only once global setup has started it.
export const test = base.extend({
  baseURL: async ({}, use) => {
    const url = process.env.DISPUTE_DESK_URL;
    if (!url) throw new Error('DISPUTE_DESK_URL is not set: global setup did not start the server');
    await use(url);
  },
});

export { expect } from '@playwright/test';
