import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';

export type AuditChanges = Record<string, { from?: unknown; to?: unknown }>;

@Entity({ name: 'audit_log' })
export class AuditEntry {
  @PrimaryColumn('uuid')
  id: string = uuidv7();

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ name: 'actor_user_id', type: 'uuid', nullable: true })
  actorUserId: string | null = null;

  @Column({ name: 'actor_tenant_id', type: 'uuid', nullable: true })
  actorTenantId: string | null = null;

  @Column({ type: 'text' })
  action: string;

  @Column({ name: 'subject_type', type: 'text' })
  subjectType: string;

  @Column({ name: 'subject_id', type: 'text', nullable: true })
  subjectId: string | null = null;

  @Column({ type: 'jsonb', nullable: true })
  changes: AuditChanges | null = null;

  @Column({ type: 'text', nullable: true })
  ip: string | null = null;

  @Column({ name: 'user_agent', type: 'text', nullable: true })
  userAgent: string | null = null;

  @Column({ name: 'request_id', type: 'text', nullable: true })
  requestId: string | null = null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
