import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import { UuidParam } from '../../common/params';
import { ApiProblems } from '../../common/problem.schema';
import { CUSTOMER } from '../customers/customers.permissions';
import { TENANT } from '../tenants/tenants.permissions';
import { CustomerThresholdView, SetThresholdRequest, TenantThresholdView } from './dto/low-balance.dto';
import { LOW_BALANCE_SETTINGS } from './low-balance.permissions';
import { LowBalanceService } from './low-balance.service';

@ApiTags('customers')
@Controller('api/v1/customers/:customerId/low-balance-threshold')
export class CustomerThresholdController {
  constructor(private readonly lowBalance: LowBalanceService) {}

  @Get()
  @RequirePermission('read', CUSTOMER)
  @ApiOperation({ summary: "The customer's low-balance threshold and the one in force" })
  @ApiOkResponse({ type: CustomerThresholdView })
  @ApiProblems('notFound')
  get(@Param('customerId', UuidParam(CUSTOMER)) customerId: string): Promise<CustomerThresholdView> {
    return this.lowBalance.customerThreshold(customerId);
  }

  @Put()
  @RequirePermission('update', CUSTOMER)
  @ApiOperation({ summary: "Set the customer's own low-balance threshold (null: use the tenant's default; \"0\": no low-balance event)" })
  @ApiOkResponse({ type: CustomerThresholdView })
  @ApiProblems('validation', 'notFound')
  set(@Param('customerId', UuidParam(CUSTOMER)) customerId: string, @Body() body: SetThresholdRequest): Promise<CustomerThresholdView> {
    return this.lowBalance.setCustomerThreshold(customerId, body.threshold);
  }
}

@ApiTags('tenants')
@Controller('api/v1/tenants/:tenantId/low-balance-threshold')
export class TenantThresholdController {
  constructor(private readonly lowBalance: LowBalanceService) {}

  @Get()
  @RequirePermission('read', LOW_BALANCE_SETTINGS)
  @ApiOperation({ summary: "The tenant's default low-balance threshold for its customers (owner, operator, finance)" })
  @ApiOkResponse({ type: TenantThresholdView })
  @ApiProblems('notFound')
  get(@Param('tenantId', UuidParam(TENANT)) tenantId: string): Promise<TenantThresholdView> {
    return this.lowBalance.tenantThreshold(tenantId);
  }

  @Put()
  @RequirePermission('update', LOW_BALANCE_SETTINGS)
  @ApiOperation({ summary: "Set the tenant's default low-balance threshold (null: the platform default; \"0\": off)" })
  @ApiOkResponse({ type: TenantThresholdView })
  @ApiProblems('validation', 'notFound')
  set(@Param('tenantId', UuidParam(TENANT)) tenantId: string, @Body() body: SetThresholdRequest): Promise<TenantThresholdView> {
    return this.lowBalance.setTenantThreshold(tenantId, body.threshold);
  }
}
