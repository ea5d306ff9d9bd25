import { ValidationError as ClassValidationError } from 'class-validator';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { ErrorDetail, ValidationError } from '@app/contracts';

/** class-validator's nested errors as the `details` of the error envelope, fields as JSON pointers. */
export function flattenValidation(errors: ClassValidationError[], prefix = ''): ErrorDetail[] {
  return errors.flatMap((e) => [
    ...Object.values(e.constraints ?? {}).map((message) => ({ field: `${prefix}/${e.property}`, message })),
    ...flattenValidation(e.children ?? [], `${prefix}/${e.property}`),
  ]);
}

export function validationFailed(errors: ClassValidationError[]): ValidationError {
  const details = flattenValidation(errors);
  return new ValidationError(`invalid request: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`, details);
}

/** The options of the HTTP ValidationPipe, so a message from the transport is checked exactly like a body. */
export const VALIDATION_OPTIONS = { whitelist: true, forbidNonWhitelisted: true } as const;

/**
 * A port method's `decode` from a request DTO class: the same class-transformer and class-validator run as for
 * an HTTP body, so a capability validates RPC payloads and bodies with one definition.
 */
export function decodeDto<T extends object>(dto: new () => T): (message: unknown) => T {
  return (message) => {
    const instance = plainToInstance(dto, message);
    const errors = validateSync(instance, VALIDATION_OPTIONS);
    if (errors.length > 0) throw validationFailed(errors);
    return instance;
  };
}
