import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';

export type UserStatus = 'invited' | 'active' | 'disabled';

@Entity({ name: 'users' })
export class User {
  @PrimaryColumn('uuid')
  id: string = uuidv7();

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ type: 'text' })
  email: string;

  @Column({ name: 'display_name', type: 'text', nullable: true })
  displayName: string | null = null;

  /** argon2id; null until an invitation is accepted. Never serialised to a client. */
  @Column({ name: 'password_hash', type: 'text', nullable: true, select: false })
  passwordHash: string | null = null;

  /** The console's language for this user (`en`, `zh-CN`); null: the tenant's default. */
  @Column({ name: 'preferred_language', type: 'text', nullable: true })
  preferredLanguage: string | null = null;

  @Column({ type: 'text', default: 'invited' })
  status: UserStatus = 'invited';

  @Column({ name: 'last_login_at', type: 'timestamptz', nullable: true })
  lastLoginAt: Date | null = null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
