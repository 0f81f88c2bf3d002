/**
 * AMQP delivery: publish to an exchange with a routing key on a confirm channel, persistent and mandatory, and
 * report success only once the broker has confirmed the message and not returned it as unroutable. Anything short
 * of that is a retryable failure, so a message is never lost once the activity has succeeded; a retry after an
 * unclear outcome may publish twice, with the same message_id for consumers to deduplicate.
 */
import { ApplicationFailure } from '@temporalio/common';
import type * as Amqplib from 'amqplib';
import type { ChannelModel, ConfirmChannel, Message } from 'amqplib';
import { requirePeer } from '../optional-peer';
import { countAmqpPublish } from '../worker/metrics';

export interface AmqpMessage {
  exchange: string;
  routingKey: string;
  body: Buffer;
  messageId: string;
  correlationId: string;
  headers: Record<string, string>;
}

export interface AmqpPublisherOptions {
  /** AMQP URLs by connection name; the name is what a fan-out's options refer to. */
  connections: Record<string, string>;
  /** How long to wait for a connection or a confirm before failing the attempt. */
  timeoutMs?: number;
}

export class AmqpPublisher {
  private readonly open = new Map<string, Promise<ChannelModel>>();
  private readonly timeoutMs: number;

  constructor(private readonly options: AmqpPublisherOptions) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Whether a connection of this name is configured. */
  has(connectionName: string): boolean {
    return Object.hasOwn(this.options.connections, connectionName);
  }

  async publish(connectionName: string, message: AmqpMessage): Promise<void> {
    if (!this.has(connectionName)) {
      throw ApplicationFailure.nonRetryable(`No AMQP connection named "${connectionName}" is configured`, 'AmqpConfig');
    }
    let channel: ConfirmChannel | undefined;
    try {
      const connection = await this.connection(connectionName);
      channel = await connection.createConfirmChannel();
      // Errors after the outcome is known (or while closing) must not crash the worker.
      channel.on('error', () => undefined);
      await withTimeout(confirmedPublish(channel, message), this.timeoutMs, 'broker confirm');
      countAmqpPublish('confirmed');
    } catch (err) {
      countAmqpPublish('failed');
      if (err instanceof ApplicationFailure) throw err;
      throw ApplicationFailure.retryable(
        `Publishing to exchange "${message.exchange}" with routing key "${message.routingKey}" failed: ${(err as Error).message}`,
        'AmqpPublishError',
      );
    } finally {
      await channel?.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const connections = [...this.open.values()];
    this.open.clear();
    await Promise.all(connections.map(async (c) => (await c.catch(() => undefined))?.close().catch(() => undefined)));
  }

  /** One shared connection per name, re-opened on the next publish after it dropped. */
  private connection(name: string): Promise<ChannelModel> {
    let connection = this.open.get(name);
    if (!connection) {
      const { connect } = requirePeer<typeof Amqplib>('amqplib', 'AMQP delivery');
      const connecting = connect(this.options.connections[name], { timeout: this.timeoutMs });
      connection = withTimeout(connecting, this.timeoutMs, 'connect').catch((err: unknown) => {
        // A handshake that completes after we gave up must not leave a connection behind.
        connecting.then((c) => c.close()).catch(() => undefined);
        throw err;
      });
      this.open.set(name, connection);
      const forget = () => {
        if (this.open.get(name) === connection) this.open.delete(name);
      };
      connection.then((c) => c.on('close', forget).on('error', forget), forget);
    }
    return connection;
  }
}

function confirmedPublish(channel: ConfirmChannel, message: AmqpMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    // With mandatory set, the broker sends basic.return before basic.ack for a message no queue took.
    let returned = false;
    channel.on('return', (m: Message) => {
      if (m.properties.messageId === message.messageId) returned = true;
    });
    // The broker closes the channel with a reason (e.g. 404 NOT_FOUND for a missing exchange); keep it.
    channel.on('error', reject);
    channel.on('close', () => reject(new Error('channel closed before the broker confirmed the message')));
    channel.publish(
      message.exchange,
      message.routingKey,
      message.body,
      {
        persistent: true,
        mandatory: true,
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        messageId: message.messageId,
        correlationId: message.correlationId,
        timestamp: Math.floor(Date.now() / 1000),
        headers: message.headers,
      },
      (err) => {
        if (err) return reject(err instanceof Error ? err : new Error('broker nacked the message'));
        if (returned) {
          return reject(
            ApplicationFailure.retryable(
              `No queue is bound to exchange "${message.exchange}" with routing key "${message.routingKey}"`,
              'AmqpUnroutable',
            ),
          );
        }
        resolve();
      },
    );
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
