/**
 * The Region an AWS profile names (`region = …` in ~/.aws/config, or AWS_CONFIG_FILE), read with the
 * SDK's own loader, as the Connect client would: resolved before the run, so that it is recorded
 * with the run and printed commands carry it.
 */
import { loadSharedConfigFiles } from '@smithy/core/config';
import type { Env } from './settings.js';

export async function profileRegion(profile: string | undefined, env: Env): Promise<string | undefined> {
  try {
    const { configFile } = await loadSharedConfigFiles({
      ...(env.AWS_CONFIG_FILE ? { configFilepath: env.AWS_CONFIG_FILE } : {}),
      ...(env.AWS_SHARED_CREDENTIALS_FILE ? { filepath: env.AWS_SHARED_CREDENTIALS_FILE } : {}),
      ignoreCache: true,
    });
    const region = configFile[profile ?? 'default']?.region;
    return region ? region : undefined;
  } catch {
    return undefined;
  }
}
