import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import { UuidParam } from '../../common/params';
import { ApiProblems, ProblemSchema } from '../../common/problem.schema';
import {
  BindingPeriodView,
  BulkBindingsRequest,
  BulkBindingsResponse,
  CreateCustomerRequest,
  CustomerListQuery,
  CustomerPage,
  CustomerView,
  MAX_BULK_BINDINGS,
  SetSalesRequest,
  UpdateCustomerRequest,
  UsageQuery,
  UsageSummary,
} from './dto/customer.dto';
import { CUSTOMER, CUSTOMER_BINDING, USAGE } from './customers.permissions';
import { CustomersService } from './customers.service';

const BINDING_PROBLEMS = 'salesperson_not_found / not_a_salesperson (422), salesperson_inactive (409)';

@ApiTags('customers')
@Controller('api/v1/customers')
export class CustomersController {
  constructor(private readonly customers: CustomersService) {}

  @Get()
  @RequirePermission('read', CUSTOMER)
  @ApiOperation({ summary: 'Customers you may see (a salesperson: those bound to them), with search, filters, sorting and pages' })
  @ApiOkResponse({ type: CustomerPage })
  @ApiProblems('validation')
  list(@Query() query: CustomerListQuery): Promise<CustomerPage> {
    return this.customers.list(query);
  }

  @Post()
  @RequirePermission('create', CUSTOMER)
  @ApiOperation({ summary: "Create a customer and mail the invitation; a salesperson's new customer is bound to them" })
  @ApiCreatedResponse({ type: CustomerView })
  @ApiUnprocessableEntityResponse({ type: ProblemSchema, description: BINDING_PROBLEMS })
  @ApiProblems('validation', 'conflict')
  create(@Body() body: CreateCustomerRequest): Promise<CustomerView> {
    return this.customers.create(body);
  }

  @Post('bindings')
  @HttpCode(200)
  @RequirePermission('assign', CUSTOMER_BINDING)
  @ApiOperation({
    summary: `Bind, reassign or unbind up to ${MAX_BULK_BINDINGS} customers; each item is applied on its own and answered ok or with a problem code`,
  })
  @ApiOkResponse({ type: BulkBindingsResponse })
  @ApiProblems('validation')
  bulk(@Body() body: BulkBindingsRequest): Promise<BulkBindingsResponse> {
    return this.customers.bulk(body.items);
  }

  @Get(':customerId')
  @RequirePermission('read', CUSTOMER)
  @ApiOperation({ summary: 'One customer: status, salesperson, created and last-active times, usage of the last 30 days' })
  @ApiOkResponse({ type: CustomerView })
  @ApiProblems('notFound')
  get(@Param('customerId', UuidParam(CUSTOMER)) customerId: string): Promise<CustomerView> {
    return this.customers.get(customerId);
  }

  @Patch(':customerId')
  @ApiOperation({ summary: "Change the customer's display name" })
  @RequirePermission('update', CUSTOMER)
  @ApiOkResponse({ type: CustomerView })
  @ApiProblems('validation', 'notFound')
  update(@Param('customerId', UuidParam(CUSTOMER)) customerId: string, @Body() body: UpdateCustomerRequest): Promise<CustomerView> {
    return this.customers.update(customerId, body);
  }

  @Post(':customerId/disable')
  @HttpCode(200)
  @RequirePermission('disable', CUSTOMER)
  @ApiOperation({ summary: 'Disable a customer: they cannot sign in and their sessions end at once' })
  @ApiOkResponse({ type: CustomerView })
  @ApiProblems('notFound', 'conflict')
  disable(@Param('customerId', UuidParam(CUSTOMER)) customerId: string): Promise<CustomerView> {
    return this.customers.setStatus(customerId, 'disabled');
  }

  @Post(':customerId/enable')
  @ApiOperation({ summary: 'Enable a disabled customer again' })
  @HttpCode(200)
  @RequirePermission('enable', CUSTOMER)
  @ApiOkResponse({ type: CustomerView })
  @ApiProblems('notFound', 'conflict')
  enable(@Param('customerId', UuidParam(CUSTOMER)) customerId: string): Promise<CustomerView> {
    return this.customers.setStatus(customerId, 'active');
  }

  @Put(':customerId/sales')
  @RequirePermission('assign', CUSTOMER_BINDING)
  @ApiOperation({ summary: 'Bind the customer to a salesperson of this tenant (reassigning closes the current period)' })
  @ApiOkResponse({ type: CustomerView })
  @ApiUnprocessableEntityResponse({ type: ProblemSchema, description: BINDING_PROBLEMS })
  @ApiProblems('validation', 'notFound', 'conflict')
  setSales(@Param('customerId', UuidParam(CUSTOMER)) customerId: string, @Body() body: SetSalesRequest): Promise<CustomerView> {
    return this.customers.setSales(customerId, body.salesUserId.toLowerCase());
  }

  @Delete(':customerId/sales')
  @RequirePermission('assign', CUSTOMER_BINDING)
  @ApiOperation({ summary: 'Unbind the customer (closes the current period; unbound already is no change)' })
  @ApiOkResponse({ type: CustomerView })
  @ApiProblems('notFound')
  unsetSales(@Param('customerId', UuidParam(CUSTOMER)) customerId: string): Promise<CustomerView> {
    return this.customers.setSales(customerId, null);
  }

  @Get(':customerId/bindings')
  @RequirePermission('read', CUSTOMER_BINDING)
  @ApiOperation({ summary: 'Who owned the customer from when to when, newest first' })
  @ApiOkResponse({ type: [BindingPeriodView] })
  @ApiProblems('notFound')
  history(@Param('customerId', UuidParam(CUSTOMER)) customerId: string): Promise<BindingPeriodView[]> {
    return this.customers.history(customerId);
  }

  @Get(':customerId/usage')
  @RequirePermission('read', USAGE)
  @ApiOperation({ summary: "The customer's requests, tokens and spend over a range, optionally by day or model" })
  @ApiOkResponse({ type: UsageSummary })
  @ApiProblems('validation', 'notFound')
  usage(@Param('customerId', UuidParam(CUSTOMER)) customerId: string, @Query() query: UsageQuery): Promise<UsageSummary> {
    return this.customers.usageOf(customerId, query);
  }
}
