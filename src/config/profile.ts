/**
 * The Region and endpoint an AWS profile names (`region = …`, `endpoint_url = …` in ~/.aws/config,
 * or AWS_CONFIG_FILE), read with the SDK's own loader, as the Connect client would: resolved before
 * the run, so that they are recorded with it and printed commands carry them.
 */
import { loadSharedConfigFiles } from '@smithy/core/config';
import type { Env } from './settings.js';

export async function profileSettings(
  profile: string | undefined,
  env: Env,
): Promise<{ region?: string; endpoint?: string }> {
  try {
    const { configFile } = await loadSharedConfigFiles({
      ...(env.AWS_CONFIG_FILE ? { configFilepath: env.AWS_CONFIG_FILE } : {}),
      ...(env.AWS_SHARED_CREDENTIALS_FILE ? { filepath: env.AWS_SHARED_CREDENTIALS_FILE } : {}),
      ignoreCache: true,
    });
    const section = configFile[profile ?? 'default'] ?? {};
    // As the SDK: AWS_IGNORE_CONFIGURED_ENDPOINT_URLS turns a profile's endpoint_url off.
    const ignoreEndpoint =
      /^true$/i.test(env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? '') ||
      /^true$/i.test(section.ignore_configured_endpoint_urls ?? '');
    return {
      ...(section.region ? { region: section.region } : {}),
      ...(section.endpoint_url && !ignoreEndpoint ? { endpoint: section.endpoint_url } : {}),
    };
  } catch {
    return {};
  }
}
