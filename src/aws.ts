/**
 * What every AWS client of the tool agrees on about a loopback endpoint: it is the emulator, which
 * has no STS, answers Service Quotas itself, and checks that requests are signed but not by whom.
 * Below delivery/ and rate/ so that both build their clients from the same rule.
 */

/** The region signed for when none is given and the endpoint is on this machine (the emulator). */
export const EMULATOR_REGION = 'us-east-1';
/** Placeholder credentials for the emulator: a rehearsal needs no AWS account. */
export const EMULATOR_CREDENTIALS = { accessKeyId: 'EMULATOR', secretAccessKey: 'emulator-placeholder' };

export function isLoopback(endpoint: string | undefined): boolean {
  if (!endpoint) return false;
  try {
    return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(endpoint).hostname);
  } catch {
    return false;
  }
}
