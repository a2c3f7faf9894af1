// The providers' signed fixture requests (made with OpenSSL), posted to the
// server as the providers would send them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { APIRequestContext } from '@playwright/test';

const fixtures = join(__dirname, '../../core/tests/fixtures/providers');

interface Case {
  id: string;
  request: { path: string; headers: Record<string, string>; body_file: string };
  expect: { http_status: number };
}

const cases: Case[] = JSON.parse(readFileSync(join(fixtures, 'cases.json'), 'utf8'));

/** Posts the fixture case `id` byte for byte (to another connection's URL
 * when `slug` is given); returns the HTTP status. */
export async function postCase(request: APIRequestContext, id: string, slug?: string): Promise<number> {
  const found = cases.find((c) => c.id === id);
  if (!found) throw new Error(`no fixture case ${id}`);
  const body = readFileSync(join(fixtures, found.request.body_file));
  const path = slug ? `/webhooks/${slug}` : found.request.path;
  const answer = await request.post(path, { headers: found.request.headers, data: body });
  return answer.status();
}
