import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';

export type OneTimePurpose = 'invitation' | 'password_reset' | 'email_verification' | 'second_factor';

@Entity({ name: 'one_time_tokens' })
export class OneTimeToken {
  @PrimaryColumn('uuid') id: string = uuidv7();
  @Column({ name: 'tenant_id', type: 'uuid' }) tenantId: string;
  @Column({ name: 'user_id', type: 'uuid' }) userId: string;
  @Column({ type: 'text' }) purpose: OneTimePurpose;
  @Column({ name: 'token_hash', type: 'bytea' }) tokenHash: Buffer;
  @Column({ name: 'expires_at', type: 'timestamptz' }) expiresAt: Date;
  @Column({ name: 'used_at', type: 'timestamptz', nullable: true }) usedAt: Date | null = null;
  @Column({ name: 'created_by', type: 'uuid', nullable: true }) createdBy: string | null = null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}
