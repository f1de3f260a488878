/**
 * `Queue` on SQS (AWS SDK v3): send, long-poll receive (with ApproximateReceiveCount), delete,
 * change visibility. The dead-letter queue is the queue's own RedrivePolicy
 * ({deadLetterTargetArn, maxReceiveCount}): SQS moves a message received more than
 * maxReceiveCount times; the worker never deletes a message it has not settled.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Queue, QueueMessage, ReceiveOptions } from '../ports.js';
import { awsCall } from './errors.js';

export class SqsQueue implements Queue {
  constructor(
    private readonly client: SQSClient,
    readonly url: string,
  ) {}

  async send(body: string): Promise<string> {
    const out = await awsCall('sending to the request queue', () => this.client.send(new SendMessageCommand({ QueueUrl: this.url, MessageBody: body })));
    return out.MessageId ?? '';
  }

  async receive(opts: ReceiveOptions): Promise<QueueMessage[]> {
    try {
      const out = await this.client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.url,
          MaxNumberOfMessages: opts.max,
          WaitTimeSeconds: opts.waitSeconds,
          ...(opts.visibilitySeconds !== undefined ? { VisibilityTimeout: opts.visibilitySeconds } : {}),
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
        opts.signal ? { abortSignal: opts.signal } : {},
      );
      return (out.Messages ?? []).map((m) => ({
        id: m.MessageId ?? '',
        receipt: m.ReceiptHandle ?? '',
        body: m.Body ?? '',
        receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? '1'),
      }));
    } catch (err) {
      if (opts.signal?.aborted) return [];
      return awsCall('receiving from the request queue', () => Promise.reject(err));
    }
  }

  async delete(receipt: string): Promise<void> {
    await awsCall('deleting a queue message', () => this.client.send(new DeleteMessageCommand({ QueueUrl: this.url, ReceiptHandle: receipt })));
  }

  async changeVisibility(receipt: string, seconds: number): Promise<void> {
    await awsCall('changing a queue message visibility', () =>
      this.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: this.url, ReceiptHandle: receipt, VisibilityTimeout: seconds })),
    );
  }
}
