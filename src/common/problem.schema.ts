import { applyDecorators } from '@nestjs/common';
import { ApiBadRequestResponse, ApiConflictResponse, ApiNotFoundResponse, ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class FieldErrorSchema {
  @ApiProperty({ example: 'email' }) field: string;
  @ApiProperty({ type: [String] }) messages: string[];
}

/** The shape of every admin API error (RFC 9457 problem details with a stable `code`). */
export class ProblemSchema {
  @ApiProperty({ example: 'urn:aigateway:problem:validation_failed' }) type: string;
  @ApiProperty({ example: 'The request has invalid fields' }) title: string;
  @ApiProperty({ example: 400 }) status: number;
  @ApiProperty({ example: 'validation_failed' }) code: string;
  @ApiPropertyOptional() detail?: string;
  @ApiPropertyOptional() instance?: string;
  @ApiPropertyOptional() requestId?: string;
  @ApiPropertyOptional({ type: [FieldErrorSchema] }) errors?: FieldErrorSchema[];
}

export const ApiProblems = (...kinds: Array<'validation' | 'notFound' | 'conflict'>) =>
  applyDecorators(
    ...(kinds.includes('validation') ? [ApiBadRequestResponse({ type: ProblemSchema, description: 'Invalid input (problem+json)' })] : []),
    ...(kinds.includes('notFound') ? [ApiNotFoundResponse({ type: ProblemSchema, description: 'No such object in your reach (problem+json)' })] : []),
    ...(kinds.includes('conflict') ? [ApiConflictResponse({ type: ProblemSchema, description: 'Conflicts with the current state (problem+json)' })] : []),
  );
