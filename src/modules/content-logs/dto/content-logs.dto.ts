import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsInt, Max, Min } from 'class-validator';

export class ContentLoggingView {
  @ApiProperty({ description: 'Whether prompts and completions of this tenant\'s requests are stored' }) enabled: boolean;
  @ApiProperty({ minimum: 1, maximum: 365, description: 'Days a stored prompt and completion are kept' }) retentionDays: number;
  @ApiPropertyOptional({ nullable: true }) updatedAt: Date | null;
}

export class UpdateContentLoggingRequest {
  @ApiProperty() @IsBoolean() enabled: boolean;
  @ApiProperty({ minimum: 1, maximum: 365 }) @IsInt() @Min(1) @Max(365) retentionDays: number;
}

export class RequestContentView {
  @ApiProperty({ format: 'uuid', description: 'The usage record\'s id' }) id: string;
  @ApiProperty({ format: 'uuid' }) customerId: string;
  @ApiProperty() createdAt: Date;
  @ApiProperty({ description: 'When it is deleted' }) expiresAt: Date;
  @ApiProperty({ description: 'The request body as the client sent it (JSON text)' }) prompt: string;
  @ApiPropertyOptional({ nullable: true, description: 'The answer\'s text, as delivered' }) completion: string | null;
}
