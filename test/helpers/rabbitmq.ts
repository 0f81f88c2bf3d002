/**
 * The tests' RabbitMQ: the node of scripts/rabbitmq.sh (started here if it is not running), or RABBITMQ_URL.
 * Tests that need it fail, never skip, when it cannot be reached.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';

const SCRIPT = path.resolve(__dirname, '../../scripts/rabbitmq.sh');

/** Returns the AMQP URL of a running broker, starting the private one if needed. */
export async function ensureRabbitMq(): Promise<string> {
  if (process.env.RABBITMQ_URL) return process.env.RABBITMQ_URL;
  const { stdout } = await promisify(execFile)(SCRIPT, ['start'], { timeout: 180_000 });
  return stdout.trim().split('\n').pop() as string;
}

/**
 * The broker for a test file, started once. A test that needs it awaits it and fails (rather than being skipped,
 * as tests are when a beforeAll hook throws) if there is no broker.
 */
export function rabbitMqOnce(): () => Promise<string> {
  let started: Promise<string> | undefined;
  return () => {
    started ??= ensureRabbitMq().catch((error: unknown) => {
      throw new Error(`RabbitMQ is required and could not be reached or started: ${(error as Error).message}`);
    });
    return started;
  };
}

/** A temporary queue bound to an exchange and routing key, collecting what arrives, like a caller's reply queue. */
export class ReplyQueue {
  readonly messages: ConsumeMessage[] = [];

  private constructor(
    private readonly connection: ChannelModel,
    private readonly channel: Channel,
  ) {}

  static async bind(url: string, exchange: string, routingKey: string): Promise<ReplyQueue> {
    const connection = await connect(url);
    const channel = await connection.createChannel();
    const queue = new ReplyQueue(connection, channel);
    await channel.assertExchange(exchange, 'direct', { durable: true });
    const { queue: name } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(name, exchange, routingKey);
    await channel.consume(
      name,
      (message) => {
        if (message) queue.messages.push(message);
      },
      { noAck: true },
    );
    return queue;
  }

  async waitFor(count: number, timeoutMs = 30_000): Promise<ConsumeMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < count) {
      if (Date.now() > deadline) throw new Error(`Expected ${count} AMQP messages, got ${this.messages.length}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.messages.slice(0, count);
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
