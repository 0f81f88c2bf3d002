/**
 * The demo's AMQP side: find a RabbitMQ (RABBITMQ_URL, or the private node of scripts/rabbitmq.sh, started if
 * rabbitmq-server is installed), and listen on a reply queue bound to the seed's exchange and routing key.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import type { ConsumeMessage } from 'amqplib';

const SCRIPT = path.resolve(__dirname, '../../../scripts/rabbitmq.sh');
const INSTALLED = '/usr/lib/rabbitmq/bin/rabbitmq-server';

/** The AMQP URL of a reachable broker, or undefined when there is none to be had. */
export async function findRabbitMq(): Promise<string | undefined> {
  if (process.env.RABBITMQ_URL) return process.env.RABBITMQ_URL;
  if (!existsSync(SCRIPT) || !existsSync(INSTALLED)) return undefined;
  try {
    const { stdout } = await promisify(execFile)(SCRIPT, ['start'], { timeout: 120_000 });
    return stdout.trim().split('\n').pop();
  } catch {
    return undefined;
  }
}

export async function listenForReplies(
  url: string,
  exchange: string,
  routingKey: string,
  onMessage: (message: ConsumeMessage) => void,
): Promise<() => Promise<void>> {
  const connection = await connect(url);
  const channel = await connection.createChannel();
  await channel.assertExchange(exchange, 'direct', { durable: true });
  const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
  await channel.bindQueue(queue, exchange, routingKey);
  await channel.consume(queue, (message) => message && onMessage(message), { noAck: true });
  return () => connection.close();
}
