/**
 * gRPC errors shaped like the real server's: a status code, a message, and google.rpc.Status details in
 * `grpc-status-details-bin`, so SDK clients raise their own typed errors.
 */
import { Metadata, status } from '@grpc/grpc-js';
import { encodeMessage, protoType } from './proto';

export class ServiceError extends Error {
  constructor(
    readonly code: status,
    message: string,
    readonly detail?: { type: string; value: Record<string, unknown> },
  ) {
    super(message);
  }

  toGrpc(): { code: status; details: string; metadata: Metadata } {
    const metadata = new Metadata();
    const details = this.detail
      ? [
          {
            type_url: `type.googleapis.com/${this.detail.type}`,
            value: encodeMessage(protoType(this.detail.type), this.detail.value),
          },
        ]
      : [];
    const statusBytes = encodeMessage(protoType('google.rpc.Status'), {
      code: this.code,
      message: this.message,
      details,
    });
    metadata.set('grpc-status-details-bin', statusBytes);
    return { code: this.code, details: this.message, metadata };
  }
}

export const invalidArgument = (message: string) => new ServiceError(status.INVALID_ARGUMENT, message);

export const notFound = (message: string) =>
  new ServiceError(status.NOT_FOUND, message, { type: 'temporal.api.errordetails.v1.NotFoundFailure', value: {} });

export const namespaceNotFound = (namespace: string) =>
  new ServiceError(status.NOT_FOUND, `Namespace ${namespace} is not found.`, {
    type: 'temporal.api.errordetails.v1.NamespaceNotFoundFailure',
    value: { namespace },
  });

export const workflowNotFound = (workflowId: string, runId?: string) =>
  notFound(
    runId
      ? `workflow execution not found for workflow ID "${workflowId}" and run ID "${runId}"`
      : `workflow not found for ID: ${workflowId}`,
  );

export const alreadyStarted = (workflowId: string, runId: string, startRequestId: string) =>
  new ServiceError(
    status.ALREADY_EXISTS,
    `Workflow execution is already running. WorkflowId: ${workflowId}, RunId: ${runId}.`,
    {
      type: 'temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure',
      value: { startRequestId, runId },
    },
  );

export const unimplemented = (method: string) =>
  new ServiceError(status.UNIMPLEMENTED, `${method} is not supported by the embedded server`);
