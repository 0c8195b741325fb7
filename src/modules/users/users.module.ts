import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TenantDomain } from '../tenants/tenant-domain.entity';
import { Tenant } from '../tenants/tenant.entity';
import { PasswordHasher } from './password-hasher';
import { UserRole } from './user-role.entity';
import { User } from './user.entity';
import { UsersRepository } from './users.repository';

@Global()
@Module({
  imports: [TypeOrmModule.forFeature([User, UserRole, Tenant, TenantDomain])],
  providers: [UsersRepository, PasswordHasher],
  exports: [UsersRepository, PasswordHasher],
})
export class UsersModule {}
