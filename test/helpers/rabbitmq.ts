/**
 * The tests' RabbitMQ: the node of scripts/rabbitmq.sh (started here if it is not running, and then stopped by the
 * suite's teardown), or RABBITMQ_URL. Tests that need it fail, never skip, when it cannot be reached.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';

export interface RabbitMqControl {
  /** scripts/rabbitmq.sh, or a stand-in with the same start/stop/status commands. */
  script: string;
  /** Exists while a node the tests started is running: the suite's teardown stops that node, and only that one. */
  marker: string;
}

const DEFAULT_CONTROL: RabbitMqControl = {
  script: path.resolve(__dirname, '../../scripts/rabbitmq.sh'),
  marker: path.resolve(__dirname, '../../.rabbitmq/started-by-tests'),
};

const run = promisify(execFile);

async function isUp(control: RabbitMqControl): Promise<boolean> {
  return run(control.script, ['status'], { timeout: 60_000 }).then(
    () => true,
    () => false,
  );
}

/**
 * Returns the AMQP URL of a running broker, starting the private one if needed. A node started here is noted in
 * the marker file, so the suite's teardown stops it (tests stop what they start); a node that was already running
 * (started by hand, by CI's scripts/ci-services.sh, or RABBITMQ_URL) is left alone.
 */
export async function ensureRabbitMq(control: RabbitMqControl = DEFAULT_CONTROL): Promise<string> {
  if (control === DEFAULT_CONTROL && process.env.RABBITMQ_URL) return process.env.RABBITMQ_URL;
  const wasUp = await isUp(control);
  const { stdout } = await run(control.script, ['start'], { timeout: 180_000 });
  if (!wasUp) {
    fs.mkdirSync(path.dirname(control.marker), { recursive: true });
    fs.writeFileSync(control.marker, `${new Date().toISOString()}\n`);
  }
  return stdout.trim().split('\n').pop() as string;
}

/** The suite's teardown: stops the node if the tests started it. */
export async function stopRabbitMqStartedByTests(control: RabbitMqControl = DEFAULT_CONTROL): Promise<boolean> {
  if (!fs.existsSync(control.marker)) return false;
  await run(control.script, ['stop'], { timeout: 120_000 });
  fs.rmSync(control.marker, { force: true });
  return true;
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
