// The CLI's one reader of the environment: where the API is and the API token. Everything else
// gets them from here.
export const DEFAULT_API_URL = 'http://127.0.0.1:3000';

export interface CliConfig {
  /** The API base URL (without a trailing slash). */
  apiUrl: string;
  /** Where apiUrl came from, to word hints ("set --api or LORA_API_URL"). */
  apiUrlSource: 'default' | 'env';
  /** The API token sent as a bearer token (writes need one): $LORA_API_TOKEN. */
  apiToken?: string;
}

export function cliConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  const fromEnv = env.LORA_API_URL?.trim();
  const apiToken = env.LORA_API_TOKEN?.trim() || undefined;
  return fromEnv ? { apiUrl: fromEnv, apiUrlSource: 'env', apiToken } : { apiUrl: DEFAULT_API_URL, apiUrlSource: 'default', apiToken };
}
