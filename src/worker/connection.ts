/**
 * Connection settings for a real Temporal: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS and
 * profiles, read by @temporalio/envconfig exactly as the Temporal CLI reads them.
 */
import { loadClientConfigProfile, loadClientConnectConfig } from '@temporalio/envconfig';

export interface TemporalConnectSettings {
  address: string;
  namespace: string;
  connectionOptions: ReturnType<typeof loadClientConnectConfig>['connectionOptions'];
}

export function temporalSettings(): TemporalConnectSettings {
  const config = loadClientConnectConfig();
  return {
    address: config.connectionOptions.address ?? 'localhost:7233',
    namespace: config.namespace ?? 'default',
    connectionOptions: config.connectionOptions,
  };
}

/**
 * Whether any Temporal is configured at all — an address, namespace, API key, TLS or gRPC metadata from the
 * environment, or a profile of the config file (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE) — as the Temporal CLI
 * resolves it. Only where nothing is do the API command and the demo start a local dev server of their own.
 */
export function temporalConfigured(): boolean {
  return Object.values(loadClientConfigProfile()).some((value) => value !== undefined);
}
