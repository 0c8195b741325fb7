import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';

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

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
