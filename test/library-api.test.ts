/**
 * What the library refuses before anything reaches Temporal: a callback named in the role it is not for, delivery
 * options this side cannot deliver with, a registry of another package copy's format, activities that would
 * shadow the fan-out's, tracing settings it cannot honour. No server is needed: every refusal comes before the first call.
 */
import { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { FanoutClient, InvalidRequestError, UndeliverableCallbackError } from '../src/client';
import { Registry, RegistryError, defineCallback, defineService } from '../src/registry';
import { createFanoutWorker } from '../src/worker/create-worker';
import { withFanoutStorage } from '../src/store/payload-driver';
import { TracingConfigError, bundleTraces, tracingConfigured } from '../src/tracing';
import { traceHeaders } from '../src/tracing/active-context';
import { tempStore } from './helpers/temporal-env';
import { clientDeliveryCallbacks } from './helpers/activity-env';
import { refusal } from './helpers/refusal';

const SECRET = `whsec_${Buffer.from('library-api-test-secret-0123456').toString('base64')}`;

function registry(): Registry {
  return new Registry(
    [defineService({ name: 'echo', handler: async (request: unknown) => request })],
    [
      defineCallback({ name: 'per-target', kind: 'on-target', handler: async (record) => void record.target }),
      defineCallback({ name: 'at-the-end', kind: 'final', handler: async (payload) => void payload.data }),
      ...clientDeliveryCallbacks(SECRET),
    ],
  );
}

/** A client whose connection is made lazily: nothing here gets as far as using it. */
function fanoutClient(reg: Registry = registry()): FanoutClient {
  return new FanoutClient({ client: new Client(), registry: reg, store: tempStore() });
}

describe('callbacks used as what they are for', () => {
  it('refuses a final callback as an on-target one and the other way round, naming each', async () => {
    const error = await refusal(fanoutClient().invoke({ echo: 1 }, ['per-target'], { onTarget: ['at-the-end'] }));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).issues.map((i) => [i.path, i.message])).toEqual([
      ['onTarget.0', 'at-the-end is a final callback'],
      ['finalCallbacks.0', 'per-target is an on-target callback'],
    ]);
  });

  it("refuses a final callback among invoke/retry's callbacks, which receive a target's record", async () => {
    const error = await refusal(
      fanoutClient().invokeRetry({
        target: 'echo',
        request: 1,
        attempts: 2,
        interval: '1 second',
        callbacks: ['at-the-end'],
      }),
    );
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).issues[0].path).toBe('callbacks.0');
  });
});

describe('delivery that could never happen is refused at invoke', () => {
  it('a webhook whose secret set is not configured', async () => {
    const error = await refusal(
      fanoutClient().invoke({ echo: 1 }, [
        { name: 'delivery.webhook', options: { url: 'https://example.test/hook', secret: 'partner' } },
      ]),
    );
    expect(error).toBeInstanceOf(UndeliverableCallbackError);
    expect((error as UndeliverableCallbackError).issues).toEqual([
      {
        path: 'finalCallbacks.0.options',
        segments: ['finalCallbacks', 0, 'options'],
        message: 'no webhook secret named "partner" is configured (WEBHOOK_SECRET_PARTNER)',
      },
    ]);
  });

  it('an AMQP delivery with no connection configured, among on-target callbacks too', async () => {
    const error = await refusal(
      fanoutClient().parallel({ echo: 1 }, [
        { name: 'delivery.amqp', options: { exchange: '', routingKey: 'replies' } },
      ]),
    );
    expect(error).toBeInstanceOf(UndeliverableCallbackError);
    expect((error as UndeliverableCallbackError).issues.map((i) => [i.path, i.message])).toEqual([
      ['onTarget.0.options', 'no AMQP connection named "default" is configured (AMQP_URL)'],
    ]);
  });

  it('options of the wrong shape are an invalid request, with the field named', async () => {
    const error = await refusal(
      fanoutClient().invoke({ echo: 1 }, [{ name: 'delivery.webhook', options: { url: 'ftp://example.test/' } }]),
    );
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).issues.map((i) => i.path)).toEqual(['finalCallbacks.0.options.url']);
  });
});

describe('registries across copies of the package', () => {
  const brand = Symbol.for('temporal-fanout.Registry');

  it("recognises another copy's registry by its brand and uses it", async () => {
    const own = registry();
    // What a second copy's Registry looks like to this one: the same shape and brand, another class.
    const foreign = Object.assign(Object.create(null) as object, {
      [brand]: 1,
      services: own.services,
      callbacks: own.callbacks,
      catalog: () => own.catalog(),
    });
    expect(foreign instanceof Registry).toBe(false);
    expect(Registry.is(foreign)).toBe(true);
    const error = await refusal(fanoutClient(foreign as unknown as Registry).invoke({ nope: 1 }, ['at-the-end']));
    expect((error as Error).message).toBe('unknown services: nope');
  });

  it('refuses one of another format, saying so, rather than half using it', () => {
    expect(() => Registry.is({ [brand]: 2 })).toThrow(RegistryError);
    expect(() => Registry.is({ [brand]: 2 })).toThrow(/another copy of temporal-fanout \(registry format 2/);
    expect(Registry.is({ services: new Map() })).toBe(false);
  });
});

describe('a worker beside the app', () => {
  it("refuses the app's activities named like the registry's services or the fan-out's own", async () => {
    const options = {
      connection: {} as NativeConnection, // never reached
      registry: registry(),
      store: tempStore(),
      activities: { echo: async () => 'mine', 'fanout.describeCatalog': async () => 'mine', greet: async () => 'hi' },
    };
    await expect(createFanoutWorker(options)).rejects.toThrow(
      "activities named like the registry's services, callbacks or the fan-out's own: echo, fanout.describeCatalog",
    );
  });
});

describe("the app's own client settings", () => {
  it("keeps the app's client interceptors: a start goes through them", async () => {
    const seen: string[] = [];
    const client = new Client({
      interceptors: {
        workflow: [
          {
            async start(input) {
              seen.push(`${input.workflowType} ${input.options.workflowId}`);
              throw new Error('stopped by the app interceptor');
            },
          },
        ],
      },
    });
    const fanout = new FanoutClient({ client, registry: registry(), store: tempStore() });
    await expect(fanout.invoke({ echo: 1 }, ['at-the-end'], { cid: 'through-interceptor' })).rejects.toThrow(
      'stopped by the app interceptor',
    );
    expect(seen).toEqual(['fanout through-interceptor']);
  });

  it("keeps the app's data converter and adds the fan-out's External Storage; refuses one that has its own", () => {
    const store = tempStore();
    const converter = withFanoutStorage({ payloadConverterPath: '/app/payload-converter.js' }, store);
    expect(converter.payloadConverterPath).toBe('/app/payload-converter.js');
    expect(converter.externalStorage).toBeDefined();
    expect(() => withFanoutStorage(converter, store)).toThrow(/already has externalStorage/);
  });
});

describe('tracing, off unless the OTEL_* variables ask for it', () => {
  it('is on with an OTLP endpoint or OTEL_TRACES_EXPORTER=otlp, off otherwise or when disabled', () => {
    expect(tracingConfigured({})).toBe(false);
    expect(tracingConfigured({ OTEL_SERVICE_NAME: 'x' })).toBe(false);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
    expect(tracingConfigured({ OTEL_TRACES_EXPORTER: 'otlp' })).toBe(true);
    expect(tracingConfigured({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe(
      false,
    );
    expect(tracingConfigured({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' })).toBe(false);
  });

  it('refuses an exporter or protocol it does not ship, rather than export nothing', () => {
    expect(() => tracingConfigured({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(TracingConfigError);
    expect(() =>
      tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }),
    ).toThrow(/http\/protobuf only/);
  });

  it("tells a bundle built with the workflows' tracing interceptors from one without", () => {
    expect(bundleTraces({ code: 'class FanoutTracingInboundInterceptor {}' })).toBe(true);
    // A bundle built by 1.0.1 or earlier, whose workflow spans came from the SDK's inbound interceptor.
    expect(bundleTraces({ code: 'class OpenTelemetryInboundInterceptor {}' })).toBe(true);
    expect(bundleTraces({ code: 'class FanoutRun {}' })).toBe(false);
  });

  it('adds no header to outgoing webhooks when tracing is off', () => {
    expect(traceHeaders()).toEqual({});
  });
});
