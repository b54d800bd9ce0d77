/**
 * What every AWS client of the tool agrees on about a loopback endpoint: it is the emulator, which
 * has no STS, answers Service Quotas itself, and checks that requests are signed but not by whom.
 * Below delivery/ and rate/ so that both build their clients from the same rule. Also the one place
 * the SDK's notice about Node versions is handled (quietSdkNodeWarning).
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

/**
 * On Node 20 the AWS SDK prints, once per process, that its releases after January 2027 need Node 22.
 * Node 20 is still supported here (package.json engines), so that notice is the package's to give in
 * its documentation, not something to print on every user's terminal. On Node 22 and later the SDK
 * prints nothing and this does nothing; drop it with Node 20 support. Call before creating a client.
 */
export function quietSdkNodeWarning(): void {
  if (Number(process.versions.node.split('.')[0]) < 22)
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

/** Node and OpenSSL codes of a request that never reached a service: the network, the endpoint, its certificate. */
export const CANNOT_CONNECT: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
]);
