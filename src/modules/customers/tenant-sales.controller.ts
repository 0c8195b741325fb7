import { Body, Controller, Delete, Get, HttpCode, Param, Put } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import { UuidParam } from '../../common/params';
import { ApiProblems, ProblemSchema } from '../../common/problem.schema';
import { TENANT } from '../tenants/tenants.permissions';
import { SetSalesRequest, TenantSalesView } from './dto/customer.dto';
import { TENANT_SALES_BINDING } from './customers.permissions';
import { TenantSalesService } from './tenant-sales.service';

@ApiTags('tenants')
@Controller('api/v1/tenants/:tenantId/sales')
export class TenantSalesController {
  constructor(private readonly sales: TenantSalesService) {}

  @Get()
  @RequirePermission('read', TENANT_SALES_BINDING)
  @ApiOperation({ summary: "A reseller's platform salesperson and the history of the binding" })
  @ApiOkResponse({ type: TenantSalesView })
  @ApiProblems('notFound')
  get(@Param('tenantId', UuidParam(TENANT)) tenantId: string): Promise<TenantSalesView> {
    return this.sales.get(tenantId);
  }

  @Put()
  @RequirePermission('assign', TENANT_SALES_BINDING)
  @ApiOperation({ summary: 'Bind a reseller to a platform salesperson (platform owner and operator)' })
  @ApiOkResponse({ type: TenantSalesView })
  @ApiUnprocessableEntityResponse({ type: ProblemSchema, description: 'salesperson_not_found / not_a_salesperson / not_a_reseller (422)' })
  @ApiProblems('validation', 'notFound', 'conflict')
  set(@Param('tenantId', UuidParam(TENANT)) tenantId: string, @Body() body: SetSalesRequest): Promise<TenantSalesView> {
    return this.sales.set(tenantId, body.salesUserId.toLowerCase());
  }

  @Delete()
  @HttpCode(204)
  @RequirePermission('assign', TENANT_SALES_BINDING)
  @ApiOperation({ summary: "Unbind a reseller's platform salesperson" })
  @ApiNoContentResponse()
  @ApiProblems('notFound')
  async unset(@Param('tenantId', UuidParam(TENANT)) tenantId: string): Promise<void> {
    await this.sales.set(tenantId, null);
  }
}
