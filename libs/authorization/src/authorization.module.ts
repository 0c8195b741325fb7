import { Global, Module } from '@nestjs/common';
import { RequestAuth } from './request-auth';

@Global()
@Module({ providers: [RequestAuth], exports: [RequestAuth] })
export class AuthorizationModule {}
