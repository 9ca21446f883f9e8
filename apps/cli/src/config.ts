// The CLI's one reader of the environment: where the API is. Everything else gets it from here.
export const DEFAULT_API_URL = 'http://127.0.0.1:3000';

export interface CliConfig {
  /** The API base URL (without a trailing slash). */
  apiUrl: string;
  /** Where apiUrl came from, to word hints ("set --api or LORA_API_URL"). */
  apiUrlSource: 'default' | 'env';
}

export function cliConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  const fromEnv = env.LORA_API_URL?.trim();
  return fromEnv ? { apiUrl: fromEnv, apiUrlSource: 'env' } : { apiUrl: DEFAULT_API_URL, apiUrlSource: 'default' };
}
