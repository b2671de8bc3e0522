// The staff web UI in headless Chromium, as a member would use it:
//   node web.mjs BASE_URL CREDENTIALS_JSON SCREENSHOT_DIR
// Signs in with two-factor, opens each plugin's main screen, performs one real action in each,
// switches the UI to Chinese, and saves a screenshot of every step. Exits non-zero on failure.
import { createHmac } from 'node:crypto';
import { readFileSync, mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [base, credsPath, shots] = process.argv.slice(2);
const creds = JSON.parse(readFileSync(credsPath, 'utf8'));
mkdirSync(shots, { recursive: true });

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) of a base32 secret, `steps` periods from now. */
function totp(secret, steps = 0) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + steps));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[h.length - 1] & 15;
  return ((h.readUInt32BE(o) & 0x7fffffff) % 1e6).toString().padStart(6, '0');
}

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.on('console', (m) => console.log(`browser console: ${m.text()}`));
const shot = (name) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
const text = () => page.locator('main').innerText();

try {
  // Sign in as the admin, with the TOTP code (retrying the next period if this one was used).
  const admin = creds.users.find((u) => u.role === 'admin');
  for (let attempt = 0; ; attempt++) {
    await page.goto(`${base}/login`);
    await page.fill('#tenant', creds.tenant);
    await page.fill('#username', admin.username);
    await page.fill('#password', admin.password);
    await page.fill('#totp', totp(admin.totp_secret, attempt));
    await page.locator('main button[type=submit]').click();
    await page.waitForLoadState('load');
    if (!page.url().includes('/login') || attempt >= 2) break;
  }
  check(!page.url().includes('/login'), 'signed in with password and TOTP');

  // Every plugin's main screen, from the navigation.
  await page.goto(`${base}/apps`);
  await shot('01-apps');
  for (const [plugin, heading] of [
    ['subscriptions', 'Subscriptions'],
    ['advertiser-deals', 'Advertiser deals'],
    ['audience-campaigns', 'Audience campaigns'],
    ['hello', 'Hello'],
  ]) {
    await page.locator(`nav.apps a[href="/apps/${plugin}/main"]`).click();
    await page.waitForLoadState('load');
    check((await page.locator('h1').innerText()) === heading, `${plugin}: main screen "${heading}"`);
    await shot(`02-${plugin}`);
  }

  // Subscriptions: open a live subscription and pause it.
  await page.goto(`${base}/apps/subscriptions/subscribers`);
  const rows = page.locator('table tbody tr');
  let paused = false;
  for (let i = 0; i < (await rows.count()) && !paused; i++) {
    await page.goto(`${base}/apps/subscriptions/subscribers`);
    await page.locator('table tbody tr').nth(i).getByRole('link', { name: 'Open' }).click();
    await page.waitForLoadState('load');
    const pause = page.getByRole('button', { name: 'Pause', exact: true });
    if (await pause.count()) {
      await pause.click();
      await page.waitForLoadState('load');
      paused = (await text()).includes('Subscription paused.');
    }
  }
  check(paused, 'subscriptions: a live subscription paused from its detail screen');
  await shot('03-subscription-paused');

  // Advertiser deals: try to sell a spot that deal D-0001 already holds.
  const now = new Date();
  const monday = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - ((now.getUTCDay() + 6) % 7)));
  const spot = `SPORT-${monday.toISOString().slice(0, 10)}-PRIME-1`;
  await page.goto(`${base}/apps/advertiser-deals/deal?id=D-0002`);
  await page.fill('#book-spot-spot', spot);
  await page.locator('#book-spot button[type=submit]').click();
  await page.waitForLoadState('load');
  check((await text()).includes('already booked by deal D-0001'), `advertiser deals: double booking of ${spot} refused`);
  await shot('04-double-booking-refused');

  // A refused form comes back with the plugin's message next to its field and the input kept.
  await page.goto(`${base}/apps/subscriptions/plans`);
  await page.fill('#create-plan-code', 'sports-cn');
  await page.fill('#create-plan-name_en', 'Sports again');
  await page.fill('#create-plan-name_zh', '体育');
  await page.fill('#create-plan-channels', 'sports');
  await page.fill('#create-plan-price', '19.90');
  await page.locator('#create-plan button[type=submit]').click();
  await page.waitForLoadState('load');
  const codeField = page.locator('#create-plan .field', { has: page.locator('#create-plan-code') });
  check((await codeField.innerText()).includes('is already used by another plan'), 'subscriptions: the duplicate plan code is named at its field');
  check((await page.inputValue('#create-plan-name_en')) === 'Sports again', 'subscriptions: the refused form keeps what was typed');
  await shot('05-field-error-in-place');

  // Audience campaigns: build a draft campaign's audience; consent-less customers are excluded.
  await page.goto(`${base}/apps/audience-campaigns/main`);
  await page.getByRole('link', { name: 'We miss you' }).click();
  await page.waitForLoadState('load');
  for (let i = 0; i < 20; i++) {
    const more = page.getByRole('button', { name: /Preview audience|Continue counting/ });
    if (!(await more.count())) break;
    await more.first().click();
    await page.waitForLoadState('load');
    if (!(await text()).includes('Continue counting')) break;
  }
  check((await text()).includes('No consent recorded for the purpose'), 'audience campaigns: customers without consent excluded, with the reason');
  await shot('06-campaign-audience');

  // The decision log: the screens just used were decided and logged; filter to them.
  await page.locator('header nav a[href="/decisions"]').click();
  await page.waitForLoadState('load');
  await page.fill('#action', 'plugin.render');
  await page.selectOption('#allow', 'true');
  await page.locator('form.filters button[type=submit]').click();
  await page.waitForLoadState('load');
  const logRows = page.locator('table.decisions tbody tr');
  check(
    page.url().includes('allow=true') && (await logRows.count()) > 0 &&
      (await page.locator('table.decisions tbody tr.deny').count()) === 0 &&
      (await logRows.first().innerText()).includes('plugin.render'),
    'decision log: filtered to allowed plugin.render decisions',
  );
  await shot('06b-decision-log');

  // The UI in Simplified Chinese.
  await page.goto(`${base}/apps/subscriptions/main`);
  await page.locator('header form[action="/lang"] button').click();
  await page.waitForLoadState('load');
  await page.goto(`${base}/apps/subscriptions/main`);
  check((await page.locator('h1').innerText()) === '订阅', 'the UI switched to Simplified Chinese');
  check((await page.locator('header').innerText()).includes('应用'), 'the navigation is in Chinese');
  await shot('07-zh-subscriptions');
  await page.goto(`${base}/decisions?allow=true`);
  check((await page.locator('h1').innerText()) === '决策日志', 'the decision log is in Chinese');
  await shot('08-zh-decision-log');

  // Compliance, in a browser of its own: data-subject requests, the archive, erasure, holds,
  // retention and a customer's consent history, in English and then in Chinese.
  const officer = creds.users.find((u) => u.role === 'compliance');
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const cp = await ctx.newPage();
  const cshot = (name) => cp.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  const ctext = () => cp.locator('main').innerText();
  for (let attempt = 0; ; attempt++) {
    await cp.goto(`${base}/login`);
    await cp.fill('#tenant', creds.tenant);
    await cp.fill('#username', officer.username);
    await cp.fill('#password', officer.password);
    await cp.fill('#totp', totp(officer.totp_secret, attempt));
    await cp.locator('main button[type=submit]').click();
    await cp.waitForLoadState('load');
    if (!cp.url().includes('/login') || attempt >= 2) break;
  }
  check(!cp.url().includes('/login'), 'compliance: signed in with password and TOTP');

  // Two customers, found the way staff would: from the list, by email.
  await cp.goto(`${base}/customers`);
  const emails = await cp.locator('table tbody tr td:nth-child(2)').allInnerTexts();
  const [askEmail, eraseEmail] = emails.filter((e) => e.includes('@'));
  check(Boolean(askEmail && eraseEmail), 'compliance: two customers with an email address in the list');

  await cp.locator('header nav a[href="/privacy"]').click();
  await cp.waitForLoadState('load');
  await cshot('10-privacy-queue-empty');
  // A customer nobody has: the form says so next to it.
  await cp.fill('#customer', 'nobody@example.invalid');
  await cp.locator('form[action="/privacy/requests"] button[type=submit]').click();
  await cp.waitForLoadState('load');
  check((await ctext()).includes('No customer of this organisation'), 'privacy: an unknown customer is refused with a sentence');
  check((await cp.getAttribute('#customer', 'aria-invalid')) === 'true', 'privacy: the field is marked invalid');

  // An access request: opened by email, verified, started, archive built and downloaded.
  await cp.fill('#customer', askEmail.trim());
  await cp.selectOption('#kind', 'access');
  await cp.fill('#verification', 'code sent to the email on file');
  await cp.locator('form[action="/privacy/requests"] button[type=submit]').click();
  await cp.waitForLoadState('load');
  check(cp.url().includes('/privacy/requests/'), 'privacy: an access request opened by email');
  for (const step of ['Identity verified', 'Start work']) {
    await cp.getByRole('button', { name: step, exact: true }).click();
    await cp.waitForLoadState('load');
  }
  check((await ctext()).includes('in progress'), 'privacy: the request verified and started');
  await cp.getByRole('button', { name: 'Build the archive' }).click();
  await cp.waitForLoadState('load');
  for (let i = 0; i < 50 && !(await cp.getByRole('link', { name: 'Download' }).count()); i++) {
    await cp.waitForTimeout(200);
    await cp.reload();
  }
  await cshot('11-privacy-access-request');
  const [download] = await Promise.all([cp.waitForEvent('download'), cp.getByRole('link', { name: 'Download' }).click()]);
  const zipPath = `${shots}/access-archive.zip`;
  await download.saveAs(zipPath);
  const zip = readFileSync(zipPath);
  check(zip.length > 200 && zip.subarray(0, 2).toString() === 'PK', `privacy: the archive downloaded (${zip.length} bytes, a zip)`);
  await cp.reload();
  check((await cp.locator('table.exports tbody tr td:nth-child(4)').first().innerText()) === '1', 'privacy: the download is counted');

  // An erasure: the last step asks for confirmation, then the customer is gone.
  await cp.goto(`${base}/privacy`);
  await cp.fill('#customer', eraseEmail.trim());
  await cp.selectOption('#kind', 'erasure');
  await cp.locator('form[action="/privacy/requests"] button[type=submit]').click();
  await cp.waitForLoadState('load');
  const erasureUrl = cp.url();
  const customerHref = await cp.locator('dl.kv a[href^="/customers/"]').getAttribute('href');
  for (const step of ['Identity verified', 'Start work']) {
    await cp.getByRole('button', { name: step, exact: true }).click();
    await cp.waitForLoadState('load');
  }
  await cp.locator('details.danger summary').click();
  await cshot('12-privacy-erasure-confirm');
  await cp.getByRole('button', { name: 'Yes, erase everything about this person' }).click();
  await cp.waitForLoadState('load');
  check((await ctext()).includes('completed'), 'privacy: the erasure request completed after confirmation');
  const gone = await cp.goto(`${base}${customerHref}`);
  check(gone.status() === 404, 'privacy: the erased customer is gone');
  await cp.goto(erasureUrl);

  // A legal hold, then retention's dry run; the queue with its figures.
  await cp.goto(`${base}/privacy/holds`);
  await cp.fill('#hold-reason', 'Case 2026-114: advertiser dispute');
  await cp.fill('#hold-owner', 'Legal team');
  await cp.locator('form[action="/privacy/holds"] button[type=submit]').click();
  await cp.waitForLoadState('load');
  check((await ctext()).includes('The legal hold is placed.'), 'privacy: a legal hold placed on every customer');
  await cshot('13-privacy-holds');
  await cp.goto(`${base}/privacy/retention`);
  // The schedule: below the platform's floor the browser itself refuses (the server too, as the
  // API tests show); a malformed line is refused by the server at its field, what was typed kept.
  await cp.fill('#audit_months', '3');
  await cp.getByRole('button', { name: 'Save the schedule' }).click();
  check(await cp.$eval('#audit_months', (e) => e.validity.rangeUnderflow), 'retention: an audit period below six months is refused by the form');
  await cp.fill('#audit_months', '12');
  await cp.fill('#interactions_months', '24');
  await cp.fill('#plugin_documents', 'audience-campaigns/outbox twelve');
  await cp.getByRole('button', { name: 'Save the schedule' }).click();
  await cp.waitForLoadState('load');
  check(
    (await ctext()).includes('one `plugin/collection months` a line') &&
      (await cp.getAttribute('#plugin_documents', 'aria-invalid')) === 'true' &&
      (await cp.inputValue('#interactions_months')) === '24',
    'retention: a malformed schedule is refused at its field, the input kept',
  );
  await cp.fill('#plugin_documents', 'audience-campaigns/outbox 12');
  await cp.getByRole('button', { name: 'Save the schedule' }).click();
  await cp.waitForLoadState('load');
  check(
    (await ctext()).includes('The schedule is saved.') && (await cp.inputValue('#audit_months')) === '12' &&
      (await cp.inputValue('#plugin_documents')) === 'audience-campaigns/outbox 12',
    'retention: the schedule saved',
  );
  await cp.getByRole('button', { name: 'Dry run' }).click();
  await cp.waitForLoadState('load');
  check((await ctext()).includes('Stopped by a legal hold'), 'retention: the dry run is stopped by the hold, and says so');
  await cshot('14-privacy-retention');
  await cp.goto(`${base}/privacy`);
  check((await cp.locator('table.requests tbody tr').count()) === 2, 'privacy: the queue lists both requests');
  await cshot('15-privacy-queue');

  // A customer's consent history.
  await cp.goto(`${base}/customers`);
  await cp.locator('table tbody tr a').first().click();
  await cp.waitForLoadState('load');
  check((await cp.locator('h2', { hasText: 'Consent history' }).count()) === 1, 'customer: the consent history is shown');
  await cshot('16-customer-consent-history');

  // The same screens in Chinese.
  await cp.goto(`${base}/privacy`);
  await cp.locator('header form[action="/lang"] button').click();
  await cp.waitForLoadState('load');
  await cp.goto(`${base}/privacy`);
  check((await cp.locator('h1').innerText()) === '数据主体请求', 'privacy: the queue in Chinese');
  await cshot('17-zh-privacy-queue');
  await cp.goto(erasureUrl);
  check((await ctext()).includes('时间线'), 'privacy: a request in Chinese');
  await cshot('18-zh-privacy-request');
  await cp.goto(`${base}/privacy/retention`);
  await cshot('19-zh-privacy-retention');
  await ctx.close();
} catch (e) {
  await shot('99-failure').catch(() => {});
  console.error(e.message);
  process.exitCode = 1;
} finally {
  await browser.close();
}
