import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccessGuard } from './access.guard';
import { AccountController } from './account.controller';
import { AccountService } from './account.service';
import { AuthController, MeController, WellKnownController } from './auth.controller';
import { AuthService } from './auth.service';
import { JwtStrategy } from './jwt.strategy';
import { LoginThrottle } from './login-throttle';
import { OneTimeToken } from './one-time-token.entity';
import { OneTimeTokens } from './one-time-tokens';
import { PrincipalLoader } from './principal.loader';
import { RefreshToken } from './refresh-token.entity';
import { Revocations } from './revocations';
import { SessionCookie } from './session-cookie';
import { Sessions } from './sessions';
import { SigningKeys } from './signing-keys';
import { TwoFactor } from './two-factor';
import { TwoFactorController } from './two-factor.controller';
import { TwoFactorRepository } from './two-factor.repository';
import { TwoFactorService } from './two-factor.service';

@Module({
  imports: [PassportModule, TypeOrmModule.forFeature([RefreshToken, OneTimeToken])],
  controllers: [AuthController, MeController, AccountController, TwoFactorController, WellKnownController],
  providers: [
    SigningKeys,
    JwtStrategy,
    PrincipalLoader,
    Revocations,
    LoginThrottle,
    Sessions,
    SessionCookie,
    OneTimeTokens,
    AuthService,
    AccountService,
    TwoFactorRepository,
    TwoFactor,
    TwoFactorService,
    { provide: APP_GUARD, useClass: AccessGuard },
  ],
  exports: [OneTimeTokens, Sessions, Revocations, AuthService, TwoFactor, LoginThrottle, SessionCookie],
})
export class AuthModule {}
