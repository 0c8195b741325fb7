import { ValidateBy, ValidationOptions } from 'class-validator';
import { decimalPlaces, isDecimalString, MONEY_SCALE } from '@app/money';

/**
 * A non-negative amount as a decimal string (`"0.15"`), never a JSON number (a float), with at most
 * `maxDecimals` decimals and 21 integer digits (what NUMERIC(30,9) holds).
 */
export function IsDecimalAmount(options: { maxDecimals?: number; max?: string } = {}, validationOptions?: ValidationOptions): PropertyDecorator {
  const maxDecimals = options.maxDecimals ?? MONEY_SCALE;
  return ValidateBy(
    {
      name: 'isDecimalAmount',
      validator: {
        validate: (value: unknown) =>
          isDecimalString(value) &&
          !value.startsWith('-') &&
          decimalPlaces(value) <= maxDecimals &&
          (options.max === undefined || Number(value.split('.')[0]) < Number(options.max) || value === options.max),
        defaultMessage: (args) =>
          `${args?.property} must be a non-negative decimal string with at most ${maxDecimals} decimals${options.max ? ` and at most ${options.max}` : ''} (e.g. "0.15")`,
      },
    },
    validationOptions,
  );
}
