// Replay in a real browser with JavaScript off: Botim Money's chargeback
// arrives at a connection holding the wrong key and is refused; ops finds
// it by filter, reads why, the key is fixed, the preview says what a
// replay will do, and the replay makes it valid and the dispute appear.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect, openDispute, signIn, test } from './fixtures';
import { postCase } from './providers';

const keys = join(__dirname, '../../core/tests/fixtures/providers/keys');
const key = (name: string) => readFileSync(join(keys, name), 'utf8');

test.describe('replay without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('a delivery refused for a wrong key is found, its key fixed, previewed, replayed and valid', async ({
    page,
    request,
  }) => {
    // A Botim Money connection set up with PayerMax's key by mistake.
    await signIn(page, 'admin');
    await page.goto('/connections/new?provider=botim_money');
    await page.getByLabel('Slug').fill('botim-replay');
    await page.getByLabel('Display name').fill('Botim (replay test)');
    await page.getByLabel('Partner id').fill('200000003232');
    await page.getByLabel("Provider's public key").fill(key('payermax-public.b64'));
    await page.getByRole('button', { name: 'Add connection' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Connection botim-replay');

    expect(await postCase(request, 'botim-chargeback', 'botim-replay')).toBe(401);

    // Found by filter, with why in words.
    await page.goto('/deliveries');
    await page.getByLabel('Connection', { exact: true }).fill('botim-replay');
    await page.getByLabel('Verdict').selectOption('bad_signature');
    await page.getByRole('button', { name: 'Show' }).click();
    await expect(page).toHaveURL(/verdict=bad_signature/);
    const rows = page.locator('table.data tbody tr');
    await expect(rows).toHaveCount(1);
    await expect(rows.first()).toContainText('the signature does not match key');
    await rows.first().getByRole('link').first().click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(/^Delivery \d+$/);
    const delivery = page.url();
    await expect(page.getByText('nothing would be recorded')).toBeVisible();

    // The key is fixed: the right one added as next, then made current.
    await page.goto('/connections/botim-replay');
    await page.getByLabel('Add a next key').fill(key('botim-money-public.pem'));
    await page.getByRole('button', { name: 'Add next key' }).click();
    await page.getByRole('button', { name: /Promote next key/ }).click();
    await expect(page.getByRole('status')).toContainText('now the current one');

    // The preview says what the replay will do, and it does it.
    await page.goto(delivery);
    await expect(page.getByText('a new dispute at Chargeback · Needs response')).toBeVisible();
    await page.getByRole('button', { name: 'Replay now' }).click();
    await expect(page.locator('.flash')).toContainText('Replayed: valid: its event was recorded');
    await expect(page.locator('table.data').last()).toContainText('valid: its event was recorded');
    await expect(page.getByText('bad signature').first()).toBeVisible();

    await openDispute(page, 'O1000', 'botim-replay');
    await expect(page.getByText('Chargeback').first()).toBeVisible();
    await expect(page.locator('tr', { hasText: 'from a replay' })).toHaveCount(1);
  });
});
