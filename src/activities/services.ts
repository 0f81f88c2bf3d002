/**
 * Activity services: each registered service becomes an activity of the same name. Requests and responses are
 * checked against the service's schemas; a mismatch is a non-retryable failure (retrying cannot fix it).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { ZodType } from 'zod';
import type { Registry } from '../registry';

export type ServiceActivity = (request: unknown) => Promise<unknown>;

export function describeIssues(schema: ZodType, value: unknown): string | undefined {
  const parsed = schema.safeParse(value);
  if (parsed.success) return undefined;
  return parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
}

export function createServiceActivities(registry: Registry): Record<string, ServiceActivity> {
  // Null prototype: looking up a name such as `constructor` finds nothing rather than Object's members.
  const activities: Record<string, ServiceActivity> = Object.create(null) as Record<string, ServiceActivity>;
  for (const service of registry.services.values()) {
    if (service.kind !== 'activity') continue;
    const { name, request: requestSchema, response: responseSchema, handler } = service;
    activities[name] = async (request: unknown) => {
      const requestProblem = requestSchema && describeIssues(requestSchema, request);
      if (requestProblem)
        throw ApplicationFailure.nonRetryable(`Invalid request for ${name}: ${requestProblem}`, 'InvalidRequest');
      const response = await (handler as (request: unknown) => Promise<unknown>)(
        requestSchema ? requestSchema.parse(request) : request,
      );
      const responseProblem = responseSchema && describeIssues(responseSchema, response);
      if (responseProblem)
        throw ApplicationFailure.nonRetryable(`Invalid response from ${name}: ${responseProblem}`, 'InvalidResponse');
      return response;
    };
  }
  return activities;
}
