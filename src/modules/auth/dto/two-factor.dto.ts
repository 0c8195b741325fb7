import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Matches, MaxLength, ValidateIf } from 'class-validator';
import { SESSION_KINDS, SessionKind } from './auth.dto';

export class TwoFactorStatus {
  @ApiProperty({ description: 'Two-factor sign-in is on (a confirmed authenticator)' }) enabled: boolean;
  @ApiProperty({ description: 'An enrolment was started and awaits its first code' }) pending: boolean;
  @ApiProperty({ description: 'Unused recovery codes left' }) recoveryCodesLeft: number;
  @ApiProperty({ description: 'Your tenant requires it of you (staff, when the owner says so)' }) required: boolean;
}

/** Starting an enrolment takes nothing: the body is an empty object. */
export class StartEnrolmentRequest {}

export class TwoFactorEnrolment {
  @ApiProperty({ description: 'The TOTP secret (base32), to type in when the QR code cannot be scanned; shown only now' }) secret: string;
  @ApiProperty({ example: 'otpauth://totp/Acme:alice%40example.com?secret=...' }) otpauthUrl: string;
  @ApiProperty({ description: 'The otpauth URL as a QR code, a data: URL of a PNG image' }) qrCodeDataUrl: string;
}

export class TwoFactorCode {
  @ApiProperty({ example: '123456', description: 'The six digits the authenticator shows now' })
  @IsString()
  @Matches(/^\s*\d{3}\s?\d{3}\s*$/, { message: 'code must be the six digits of the authenticator' })
  code: string;
}

export class RecoveryCodes {
  @ApiProperty({ type: [String], description: 'Ten single-use recovery codes: shown only this once, stored hashed' }) recoveryCodes: string[];
}

/** A code or a recovery code (exactly one). */
export class SecondFactorProof {
  @ApiPropertyOptional({ example: '123456' })
  @ValidateIf((o: SecondFactorProof) => o.recoveryCode === undefined || o.code !== undefined)
  @IsString()
  @Matches(/^\s*\d{3}\s?\d{3}\s*$/, { message: 'code must be the six digits of the authenticator' })
  code?: string;

  @ApiPropertyOptional({ example: 'abcde-fghjk', description: 'One of the recovery codes, instead of a code (each works once)' })
  @ValidateIf((o: SecondFactorProof) => o.code === undefined)
  @IsString()
  @MaxLength(40)
  recoveryCode?: string;
}

export class SecondFactorLogin extends SecondFactorProof {
  @ApiProperty({ description: 'The `challenge` of the second_factor_required answer to the password step (valid 5 minutes)' })
  @IsString()
  @MaxLength(200)
  challenge: string;

  @ApiPropertyOptional({ enum: SESSION_KINDS, default: 'token' })
  @IsOptional()
  @IsIn(SESSION_KINDS)
  session?: SessionKind;
}
