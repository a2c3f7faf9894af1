import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect, signIn, test } from './fixtures';

const keys = join(__dirname, '../../core/tests/fixtures/providers/keys');
const key = (name: string) => readFileSync(join(keys, name), 'utf8');

test('an admin adds a connection with the fixture keys, rotates its key and signs out', async ({ page }) => {
  await signIn(page, 'admin');
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByText('Admin', { exact: true }).click();
  await nav.getByRole('link', { name: 'Connections' }).click();
  await page.getByRole('link', { name: 'Botim Money' }).click();

  await page.getByLabel('Slug').fill('botim-e2e');
  await page.getByLabel('Display name').fill('Botim (browser test)');
  await page.getByLabel('Partner id').fill('200000003232');
  await page.getByLabel("Provider's public key").fill(key('botim-money-public.pem'));
  await page.getByLabel('Your private key for status queries').fill(key('botim-money-merchant-private.pem'));
  await page.getByRole('button', { name: 'Add connection' }).click();

  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Connection botim-e2e');
  await expect(page.getByRole('status')).toContainText('Connection added. Next: give the provider its intake address');
  await expect(page.getByLabel(/Intake address/)).toHaveValue(/\/webhooks\/botim-e2e$/);
  const fingerprints = page.locator('code.fingerprint');
  await expect(fingerprints).toHaveCount(2);
  await expect(fingerprints.first()).toHaveText(/^sha256:[0-9a-f]{16}$/);
  const original = await fingerprints.first().textContent();
  await expect(page.locator('body')).not.toContainText('PRIVATE KEY');

  await page.getByLabel('Add a next key').fill(key('payermax-public.b64'));
  await page.getByRole('button', { name: 'Add next key' }).click();
  await expect(page.getByRole('status')).toContainText('either key');
  await expect(fingerprints).toHaveCount(3);

  await page.getByRole('button', { name: /Promote next key/ }).click();
  await expect(page.getByRole('status')).toContainText('now the current one');
  await expect(fingerprints).toHaveCount(2);
  await expect(fingerprints.first()).not.toHaveText(original ?? '');

  await page.goto('/connections');
  await expect(page.getByRole('row', { name: /Botim \(browser test\)/ })).toContainText('/webhooks/botim-e2e');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in');
});
