/**
 * Connection settings for a real Temporal: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS and
 * profiles, read by @temporalio/envconfig exactly as the Temporal CLI reads them.
 */
import { loadClientConnectConfig } from '@temporalio/envconfig';

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
