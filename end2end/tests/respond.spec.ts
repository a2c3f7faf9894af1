// Responding in a real browser with JavaScript off: an analyst prepares the
// response to a PingPong chargeback (not received, 13.1) with two files,
// marks it ready, defends it from the confirmation page, sees each step on
// the timeline as the job sends it to the simulator, and then the
// simulator's "won" notification, sent two seconds after the defence,
// closes the dispute.
import { join } from 'node:path';

import { expect, openDispute, signIn, test } from './fixtures';

const DISPUTE = 'PPDEFEND';
const evidence = join(__dirname, '../../test-support/fixtures/evidence');

test.describe('responding without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('an analyst defends a PingPong chargeback with two files and the won notification closes it', async ({
    page,
  }) => {
    await signIn(page, 'analyst');
    await openDispute(page, DISPUTE);
    await page.getByRole('region', { name: 'Response' }).getByRole('button', { name: 'Prepare a response' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Response to dispute ${DISPUTE}`);

    await page.getByLabel('File 1 is').selectOption('invoice');
    await page.getByLabel('File 1', { exact: true }).setInputFiles(join(evidence, 'invoice-two-pages.pdf'));
    await page.getByLabel('File 2 is').selectOption('shipping');
    await page.getByLabel('File 2', { exact: true }).setInputFiles(join(evidence, 'delivery-photo-sideways.jpg'));
    await page.getByRole('button', { name: 'Add files' }).click();
    await expect(page.locator('table.evidence')).toContainText('delivery-photo-sideways.jpg');
    await page.getByRole('button', { name: 'Mark ready to send' }).click();
    await expect(page.getByRole('status')).toHaveText('The response is ready to send');

    await openDispute(page, DISPUTE);
    await page.getByRole('region', { name: 'Decision' }).getByRole('link', { name: 'Defend…' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Defend the chargeback');
    const confirmation = page.locator('main');
    await expect(confirmation).toContainText('cannot be undone');
    await expect(confirmation).toContainText('invoice-two-pages.pdf');
    await expect(confirmation).toContainText('2022102018024210348882');
    await page.getByRole('button', { name: 'Send the defence to PingPong Checkout' }).click();
    await expect(page.getByRole('status')).toContainText('Sending the defence to PingPong Checkout');

    // The job sends it within seconds; the page shows each step as done.
    const timeline = page.locator('table.timeline');
    await expect(async () => {
      await page.reload();
      await expect(timeline).toContainText('Defend the dispute');
      await expect(timeline).toContainText('Chargeback responded to');
    }).toPass({ timeout: 20_000 });
    await expect(timeline).toContainText('Upload: invoice or transaction record');
    await expect(timeline).toContainText('Upload: shipping and tracking');
    await expect(page.getByRole('region', { name: 'Decision' })).toContainText('Defence sent to PingPong Checkout');

    // PingPong decides, and says so.
    await expect(async () => {
      await page.reload();
      await expect(timeline).toContainText('Chargeback won');
    }).toPass({ timeout: 20_000 });
    await expect(page.getByRole('region', { name: 'Decision' }).getByRole('link', { name: 'Defend…' })).toHaveCount(0);
  });
});
