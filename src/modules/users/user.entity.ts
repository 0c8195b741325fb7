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

  /** When the person proved they read mail at `email` (self sign-up); null for invited accounts. */
  @Column({ name: 'email_verified_at', type: 'timestamptz', nullable: true })
  emailVerifiedAt: Date | null = null;

  /** When the account was deleted: its personal fields are pseudonymised, its money records stay. */
  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt: Date | null = null;

  /** When TOTP two-factor was confirmed; null: not in use (the secret is never selected by default). */
  @Column({ name: 'totp_enabled_at', type: 'timestamptz', nullable: true })
  totpEnabledAt: Date | null = null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
