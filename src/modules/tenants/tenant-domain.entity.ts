import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';

export type DomainStatus = 'pending' | 'verified';

@Entity({ name: 'tenant_domains' })
export class TenantDomain {
  @PrimaryColumn('uuid')
  id: string = uuidv7();

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ type: 'text' })
  domain: string;

  @Column({ name: 'is_primary', type: 'boolean', default: false })
  isPrimary: boolean = false;

  /** Only a verified domain serves (the Host resolves to its tenant). */
  @Column({ type: 'text' })
  status: DomainStatus = 'pending';

  /** What the TXT record `_aigateway-challenge.<domain>` or the HTTP token file must hold. */
  @Column({ name: 'verification_token', type: 'text', nullable: true })
  verificationToken: string | null = null;

  @Column({ name: 'verified_at', type: 'timestamptz', nullable: true })
  verifiedAt: Date | null = null;

  @Column({ name: 'last_checked_at', type: 'timestamptz', nullable: true })
  lastCheckedAt: Date | null = null;

  @Column({ name: 'last_check_error', type: 'text', nullable: true })
  lastCheckError: string | null = null;

  /** Asked to be primary when added: it becomes primary once verified. */
  @Column({ name: 'primary_requested', type: 'boolean', default: false })
  primaryRequested: boolean = false;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
