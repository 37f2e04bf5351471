/**
 * Real headless Chromium (Debian's `chromium`) driven by playwright-core, which never
 * downloads a browser: the tests that need it skip loudly when it is missing, and fail
 * under PROBEKIT_REQUIRE_PEERS (CI installs it).
 */
import { chromium, type Browser } from 'playwright-core';
import { havePeer, which } from './peers.js';

/** True when Debian's Chromium is installed (see havePeer). */
export function haveChromium(): boolean {
  return havePeer('chromium', 'chromium');
}

/**
 * Starts headless Chromium with a fresh profile of its own (playwright makes one), no GPU,
 * no sandbox (the tests run as root), and nothing that reaches for the network on its own:
 * this machine's network is closed, and a browser's background traffic would only fail.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: which('chromium') as string,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
