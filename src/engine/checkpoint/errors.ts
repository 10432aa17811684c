export type CheckpointErrorReason =
  | 'missing'
  | 'unreadable'
  | 'empty'
  | 'truncated'
  | 'corrupt'
  | 'not-a-checkpoint'
  | 'unsafe'
  | 'unsupported';

/** A checkpoint that cannot be used; the message is meant to be shown to the user as is. */
export class CheckpointError extends Error {
  readonly reason: CheckpointErrorReason;

  constructor(reason: CheckpointErrorReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CheckpointError';
    this.reason = reason;
  }
}

export function truncated(detail: string): CheckpointError {
  return new CheckpointError(
    'truncated',
    `The file is incomplete (${detail}). The download or copy was probably interrupted: download it again.`,
  );
}

export function corrupt(detail: string, options?: ErrorOptions): CheckpointError {
  return new CheckpointError('corrupt', `The file is damaged (${detail}). Download it again.`, options);
}
