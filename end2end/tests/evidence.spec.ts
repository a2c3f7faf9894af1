// Preparing a response in a real browser with JavaScript off: an analyst
// opens a PayerMax retrieval request, prepares a response, uploads two
// files with the plain multipart form (a PDF made by ReportLab and a JPEG
// made by Pillow), sees the checklist turn satisfied, edits the letter and
// the summary, marks it ready and downloads the packet.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect, openDispute, signIn, test } from './fixtures';
import { postCase } from './providers';

const CASE = 'O20230501010101000000000042';
const evidence = join(__dirname, '../../test-support/fixtures/evidence');

test.describe('a response without JavaScript', () => {
  test.use({ javaScriptEnabled: false, acceptDownloads: true });

  test('an analyst prepares a response, adds evidence, edits the letter and downloads the packet', async ({
    page,
    request,
  }) => {
    expect(await postCase(request, 'pm-inquiry-wrapped')).toBe(200);
    await signIn(page, 'analyst');
    await openDispute(page, CASE);

    const panel = page.getByRole('region', { name: 'Response' });
    const existing = panel.getByRole('link', { name: /Open the response/ });
    if (await existing.count()) await existing.click();
    else await panel.getByRole('button', { name: 'Prepare a response' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Response to dispute ${CASE}`);

    const checklist = page.locator('table.checklist');
    const invoice = checklist.getByRole('row', { name: /Invoice or transaction record/ });
    const description = checklist.getByRole('row', { name: /Product description/ });
    await expect(invoice).toContainText(/missing|satisfied/);

    // Two files at once, each with what it is.
    await page.getByLabel('File 1 is').selectOption('invoice');
    await page.getByLabel('File 1', { exact: true }).setInputFiles(join(evidence, 'invoice-two-pages.pdf'));
    await page.getByLabel('File 2 is').selectOption('product_description');
    await page.getByLabel('File 2', { exact: true }).setInputFiles(join(evidence, 'delivery-photo-sideways.jpg'));
    await page.getByRole('button', { name: 'Add files' }).click();
    await expect(page.locator('main .flash')).toContainText('invoice-two-pages.pdf');
    await expect(invoice).toContainText('satisfied');
    await expect(description).toContainText('satisfied');
    const files = page.locator('table.evidence');
    await expect(files).toContainText('invoice-two-pages.pdf');
    await expect(files).toContainText('delivery-photo-sideways.jpg');

    // The letter came filled from the dispute; the analyst makes it theirs.
    const letter = page.getByLabel(/The letter that opens the packet/);
    await expect(letter).toContainText(CASE);
    await letter.fill('The order was delivered as described.\n\nPhotos and the invoice are enclosed.');
    await page.getByLabel(/Summary for PayerMax/).fill('Delivered as described; invoice and photos enclosed.');
    await page.getByRole('button', { name: 'Save letter' }).click();
    await expect(page.getByRole('status')).toHaveText('Letter and summary saved');
    await expect(letter).toHaveValue(/delivered as described/);

    await page.getByRole('button', { name: 'Mark ready to send' }).click();
    await expect(page.getByRole('status')).toHaveText('The response is ready to send');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download the packet (PDF)' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(`packet-${CASE}.pdf`);
    const pdf = readFileSync(await download.path());
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');

    await page.goto('/disputes');
    await openDispute(page, CASE);
    await expect(page.locator('table.timeline')).toContainText('Marked the response ready to send');
  });
});
