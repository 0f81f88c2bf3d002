/** Typed errors of the fan-out client: each says what was wrong and carries what a caller needs to react. */
export interface FieldIssue {
  /** Dot-joined, for people: `targets.crm.get-user.user_id`. */
  path: string;
  /** The same path, exact (target names may contain dots): ['targets', 'crm.get-user', 'user_id']. */
  segments: (string | number)[];
  message: string;
}

export class FanoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The request does not match the contract; nothing was started. */
export class InvalidRequestError extends FanoutError {
  constructor(readonly issues: FieldIssue[]) {
    super(`Invalid request: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
  }
}

/** Services or callbacks the worker does not serve; nothing was started. */
export class UnknownServiceError extends FanoutError {
  constructor(
    readonly unknownServices: string[],
    readonly unknownCallbacks: string[],
  ) {
    const parts = [
      unknownServices.length ? `unknown services: ${unknownServices.join(', ')}` : '',
      unknownCallbacks.length ? `unknown callbacks: ${unknownCallbacks.join(', ')}` : '',
    ].filter(Boolean);
    super(parts.join('; '));
  }
}

/**
 * Callbacks the request names with options they cannot be delivered with as configured (a webhook secret or an
 * AMQP connection this side does not have); nothing was started. Each issue names the callback's options.
 */
export class UndeliverableCallbackError extends FanoutError {
  constructor(readonly issues: FieldIssue[]) {
    super(`Callbacks that cannot be delivered: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  }
}

/**
 * Target items that cannot be read where the request says they are: no such object or file (`not-found`), or one
 * this reader may not read (`refused`: a file outside its root, or S3 denying access); nothing was started.
 */
export class ItemsSourceError extends FanoutError {
  constructor(
    readonly url: string,
    readonly reason: 'not-found' | 'refused',
    detail: string,
  ) {
    super(`${url}: ${detail}`);
  }
}

/** The CID is already in use (running or finished); the existing fan-out is untouched. */
export class DuplicateCidError extends FanoutError {
  constructor(readonly cid: string) {
    super(`CID ${cid} is already in use`);
  }
}

/** No fan-out has this CID. */
export class FanoutNotFoundError extends FanoutError {
  constructor(readonly cid: string) {
    super(`No fan-out with CID ${cid}`);
  }
}

/** The request would exceed Temporal's payload limit once encoded; nothing was started. */
export class PayloadTooLargeError extends FanoutError {
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`The request encodes to ${bytes} bytes, over the ${limit}-byte payload limit`);
  }
}

/** The fan-out has not finished yet (result asked for without waiting). */
export class FanoutRunningError extends FanoutError {
  constructor(readonly cid: string) {
    super(`Fan-out ${cid} is still running`);
  }
}

/** A control (setMaxConcurrency, pause, resume) the fan-out refused: a bad value, or it no longer starts targets. */
export class FanoutControlError extends FanoutError {
  constructor(
    readonly cid: string,
    reason: string,
  ) {
    super(`Fan-out ${cid} refused the change: ${reason}`);
  }
}

/** How a fan-out that has no result ended: its workflow failed, was terminated or timed out. */
export type FailedState = 'failed' | 'terminated' | 'timed-out' | 'cancelled';

/**
 * The fan-out ended without a result; `state` and `failure` say how, and `cause` is Temporal's failure (e.g. the
 * ApplicationFailure of the worker's name check), as WorkflowFailedError's cause was.
 */
export class FanoutFailedError extends FanoutError {
  constructor(
    readonly cid: string,
    readonly state: FailedState,
    readonly failure: { type: string; message: string },
    cause?: unknown,
  ) {
    super(`Fan-out ${cid} ended without a result (${state}): ${failure.type}: ${failure.message}`);
    if (cause !== undefined) this.cause = cause;
  }

  static from(cid: string, error: { cause?: unknown; message: string }): FanoutFailedError {
    const cause = error.cause as { name?: string; type?: string; message?: string } | undefined;
    const name = cause?.name ?? 'Error';
    const state: FailedState =
      name === 'TerminatedFailure'
        ? 'terminated'
        : name === 'TimeoutFailure'
          ? 'timed-out'
          : name === 'CancelledFailure'
            ? 'cancelled'
            : 'failed';
    return new FanoutFailedError(
      cid,
      state,
      { type: cause?.type || name, message: cause?.message || error.message },
      error.cause,
    );
  }
}
