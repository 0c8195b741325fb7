import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import { UuidParam } from '../../common/params';
import { ApiProblems } from '../../common/problem.schema';
import { AddDomainRequest, CreateTenantRequest, DomainView, TenantListQuery, TenantPage, TenantView, UpdateTenantRequest } from './dto/tenant.dto';
import { TENANT, TENANT_DOMAIN } from './tenants.permissions';
import { TenantsService } from './tenants.service';

@ApiTags('tenants')
@Controller('api/v1/tenants')
export class TenantsController {
  constructor(private readonly tenants: TenantsService) {}

  @Get()
  @RequirePermission('read', TENANT)
  @ApiOperation({ summary: 'Tenants you may see' })
  @ApiOkResponse({ type: TenantPage })
  @ApiProblems('validation')
  list(@Query() query: TenantListQuery): Promise<TenantPage> {
    return this.tenants.list(query);
  }

  @Post()
  @RequirePermission('create', TENANT)
  @ApiOperation({ summary: 'Create a reseller tenant (platform owner and operator)' })
  @ApiCreatedResponse({ type: TenantView })
  @ApiProblems('validation', 'conflict')
  create(@Body() body: CreateTenantRequest): Promise<TenantView> {
    return this.tenants.create(body);
  }

  @Get(':tenantId')
  @ApiOperation({ summary: 'One tenant: name, slug, status, branding and domains' })
  @RequirePermission('read', TENANT)
  @ApiOkResponse({ type: TenantView })
  @ApiProblems('notFound')
  get(@Param('tenantId', UuidParam(TENANT)) tenantId: string): Promise<TenantView> {
    return this.tenants.get(tenantId);
  }

  @Patch(':tenantId')
  @RequirePermission('update', TENANT)
  @ApiOperation({ summary: 'Change name and branding' })
  @ApiOkResponse({ type: TenantView })
  @ApiProblems('validation', 'notFound')
  update(@Param('tenantId', UuidParam(TENANT)) tenantId: string, @Body() body: UpdateTenantRequest): Promise<TenantView> {
    return this.tenants.update(tenantId, body);
  }

  @Post(':tenantId/disable')
  @HttpCode(200)
  @RequirePermission('disable', TENANT)
  @ApiOperation({ summary: "Disable a reseller: its users cannot sign in and its tokens stop at once" })
  @ApiOkResponse({ type: TenantView })
  @ApiProblems('notFound')
  disable(@Param('tenantId', UuidParam(TENANT)) tenantId: string): Promise<TenantView> {
    return this.tenants.setStatus(tenantId, 'disabled');
  }

  @Post(':tenantId/enable')
  @ApiOperation({ summary: 'Enable a disabled reseller again: its users can sign in again' })
  @HttpCode(200)
  @RequirePermission('enable', TENANT)
  @ApiOkResponse({ type: TenantView })
  @ApiProblems('notFound')
  enable(@Param('tenantId', UuidParam(TENANT)) tenantId: string): Promise<TenantView> {
    return this.tenants.setStatus(tenantId, 'active');
  }

  @Get(':tenantId/domains')
  @ApiOperation({ summary: "The tenant's domains (the primary one first)" })
  @RequirePermission('read', TENANT_DOMAIN)
  @ApiOkResponse({ type: [DomainView] })
  @ApiProblems('notFound')
  domains(@Param('tenantId', UuidParam(TENANT)) tenantId: string): Promise<DomainView[]> {
    return this.tenants.listDomains(tenantId);
  }

  @Post(':tenantId/domains')
  @ApiOperation({ summary: 'Add a domain: a reseller\'s is pending until verified (DNS TXT or HTTP token file); the platform\'s serves at once' })
  @RequirePermission('create', TENANT_DOMAIN)
  @ApiCreatedResponse({ type: DomainView })
  @ApiProblems('validation', 'notFound', 'conflict')
  addDomain(@Param('tenantId', UuidParam(TENANT)) tenantId: string, @Body() body: AddDomainRequest): Promise<DomainView> {
    return this.tenants.addDomain(tenantId, body);
  }

  @Post(':tenantId/domains/:domainId/verify')
  @ApiOperation({
    summary: 'Check a pending domain now: the TXT record `_aigateway-challenge.<domain>` or the HTTP token file (owner, operator, tech)',
    description: 'Answers the domain: `verified` serves at once; still `pending`, `verification.lastCheckError` says why. The worker also re-checks pending domains periodically.',
  })
  @HttpCode(200)
  @RequirePermission('update', TENANT_DOMAIN)
  @ApiOkResponse({ type: DomainView })
  @ApiProblems('notFound', 'conflict')
  verifyDomain(
    @Param('tenantId', UuidParam(TENANT)) tenantId: string,
    @Param('domainId', UuidParam(TENANT_DOMAIN)) domainId: string,
  ): Promise<DomainView> {
    return this.tenants.verifyDomain(tenantId, domainId);
  }

  @Delete(':tenantId/domains/:domainId')
  @ApiOperation({ summary: 'Remove a domain from the tenant (the Host cache follows at once)' })
  @HttpCode(204)
  @RequirePermission('delete', TENANT_DOMAIN)
  @ApiNoContentResponse()
  @ApiProblems('notFound')
  removeDomain(
    @Param('tenantId', UuidParam(TENANT)) tenantId: string,
    @Param('domainId', UuidParam(TENANT_DOMAIN)) domainId: string,
  ): Promise<void> {
    return this.tenants.removeDomain(tenantId, domainId);
  }
}
