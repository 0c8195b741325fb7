import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { TenantStatus, TenantType } from '@app/tenancy';
import { v7 as uuidv7 } from 'uuid';

export interface TenantBranding {
  logoUrl?: string;
  themeColor?: string;
  displayName?: string;
  /** The console's language before a visitor picks one (`en` or `zh-CN`). */
  defaultLanguage?: string;
  /** Languages the console offers at this tenant (default: all). */
  languages?: string[];
  supportEmail?: string;
  supportUrl?: string;
}

@Entity({ name: 'tenants' })
export class Tenant {
  @PrimaryColumn('uuid')
  id: string = uuidv7();

  @Column({ type: 'text' })
  type: TenantType;

  @Column({ name: 'parent_id', type: 'uuid', nullable: true })
  parentId: string | null = null;

  @Column({ type: 'text' })
  slug: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ type: 'text', default: 'active' })
  status: TenantStatus = 'active';

  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" })
  branding: TenantBranding = {};

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
