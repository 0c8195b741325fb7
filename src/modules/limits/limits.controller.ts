import { Body, Controller, Get, Param, Put, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import { UuidParam } from '../../common/params';
import { ApiProblems } from '../../common/problem.schema';
import { TENANT } from '../tenants/tenants.permissions';
import { BudgetListView, BudgetQuery, CustomerLimitsView, SetBudgetRequest, SetCustomerLimitsRequest, SetTenantLimitsRequest, SetTimeZoneRequest, TenantLimitsView, TimeZoneView } from './dto/limits.dto';
import { CUSTOMER_LIMITS, TENANT_LIMITS } from './limits.permissions';
import { LimitsService } from './limits.service';

@ApiTags('limits')
@Controller('api/v1')
export class LimitsController {
  constructor(private readonly limits: LimitsService) {}

  @Get('tenants/:tenantId/limits')
  @RequirePermission('read', TENANT_LIMITS)
  @ApiOperation({ summary: "A tenant's requests and tokens per minute (platform owner and operator: any tenant; the tenant's owner, operator, finance: its own)" })
  @ApiOkResponse({ type: TenantLimitsView })
  @ApiProblems('notFound')
  getTenant(@Param('tenantId', UuidParam(TENANT)) tenantId: string): Promise<TenantLimitsView> {
    return this.limits.getTenant(tenantId);
  }

  @Put('tenants/:tenantId/limits')
  @RequirePermission('update', TENANT_LIMITS)
  @ApiOperation({ summary: "Set a tenant's requests and tokens per minute (platform owner and operator); null: the default, 0: none" })
  @ApiOkResponse({ type: TenantLimitsView })
  @ApiProblems('validation', 'notFound')
  setTenant(@Param('tenantId', UuidParam(TENANT)) tenantId: string, @Body() body: SetTenantLimitsRequest): Promise<TenantLimitsView> {
    return this.limits.setTenant(tenantId, body);
  }

  @Get('customers/:customerId/limits')
  @RequirePermission('read', CUSTOMER_LIMITS)
  @ApiOperation({ summary: "A customer's requests and tokens per minute and requests in flight (owner, operator, finance)" })
  @ApiOkResponse({ type: CustomerLimitsView })
  @ApiProblems('notFound')
  getCustomer(@Param('customerId', UuidParam('customer')) customerId: string): Promise<CustomerLimitsView> {
    return this.limits.getCustomer(customerId);
  }

  @Put('customers/:customerId/limits')
  @RequirePermission('update', CUSTOMER_LIMITS)
  @ApiOperation({ summary: "Set a customer's limits (the tenant's owner); null: the default, 0: none" })
  @ApiOkResponse({ type: CustomerLimitsView })
  @ApiProblems('validation', 'notFound')
  setCustomer(@Param('customerId', UuidParam('customer')) customerId: string, @Body() body: SetCustomerLimitsRequest): Promise<CustomerLimitsView> {
    return this.limits.setCustomer(customerId, body);
  }

  @Get('budgets')
  @RequirePermission('read', CUSTOMER_LIMITS)
  @ApiOperation({ summary: "A customer's or a key's budgets per day, week, month, with what is spent in the current period (owner, operator, finance)" })
  @ApiOkResponse({ type: BudgetListView })
  @ApiProblems('validation', 'notFound')
  budgets(@Query() query: BudgetQuery): Promise<BudgetListView> {
    return this.limits.budgets(query);
  }

  @Put('budgets')
  @RequirePermission('update', CUSTOMER_LIMITS)
  @ApiOperation({ summary: 'Set or remove (amount null) a budget of a customer or a key for a day, week or month (the owner); checked atomically with every hold' })
  @ApiOkResponse({ type: BudgetListView })
  @ApiProblems('validation', 'notFound')
  setBudget(@Body() body: SetBudgetRequest): Promise<BudgetListView> {
    return this.limits.setBudget(body);
  }

  @Put('budgets/time-zone')
  @RequirePermission('update', CUSTOMER_LIMITS)
  @ApiOperation({ summary: "The IANA time zone the tenant's budget periods follow (the owner)" })
  @ApiOkResponse({ type: TimeZoneView })
  @ApiProblems('validation')
  setTimeZone(@Body() body: SetTimeZoneRequest): Promise<TimeZoneView> {
    return this.limits.setTimeZone(body);
  }
}
