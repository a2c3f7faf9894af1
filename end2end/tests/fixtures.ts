import { test as base, expect, type Page } from '@playwright/test';

import { accounts, type Role } from './accounts';

// The server's address is known only once global setup has started it.
export const test = base.extend({
  baseURL: async ({}, use) => {
    const url = process.env.DISPUTE_DESK_URL;
    if (!url) throw new Error('DISPUTE_DESK_URL is not set: global setup did not start the server');
    await use(url);
  },
});

/** Signs in through the login form, as a person would. */
export async function signIn(page: Page, role: Role): Promise<void> {
  await page.goto('/login');
  await page.getByLabel('Email').fill(accounts[role].email);
  await page.getByLabel('Password').fill(accounts[role].password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Disputes');
}

/** Opens a dispute's page the way an analyst finds it: by searching the queue. */
export async function openDispute(page: Page, reference: string, connection = ''): Promise<void> {
  const query = new URLSearchParams({ status: 'any', connection, q: reference });
  await page.goto(`/disputes?${query}`);
  await page.getByRole('link', { name: reference, exact: true }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Dispute ${reference}`);
}

export { expect };
