// The one error type: an HTTP status, a stable code scripts can match on, a message a
// person can act on, and the input field it concerns (when there is one).
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
  }

  toJSON(): { error: { code: string; message: string; field?: string; details?: unknown } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.field ? { field: this.field } : {}),
        ...(this.details !== undefined ? { details: this.details } : {}),
      },
    };
  }
}

export const badRequest = (message: string, field?: string) => new AppError(400, 'bad_request', message, field);
export const notFound = (what: string) => new AppError(404, 'not_found', `${what} not found`);
export const conflict = (code: string, message: string, field?: string, details?: unknown) =>
  new AppError(409, code, message, field, details);
export const unprocessable = (code: string, message: string, field?: string, details?: unknown) =>
  new AppError(422, code, message, field, details);
