import { Body, Controller, Delete, Get, Param, Post, Put } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import { UuidParam } from '../../common/params';
import { ApiProblems, ProblemSchema } from '../../common/problem.schema';
import { CreateGroupRequest, CustomerGroupView, FactorView, GroupView, OverrideView, PriceRulesView, ResolvedPriceView, SetCustomerGroupRequest, SetFactorRequest } from './dto/price-rules.dto';
import { SetPriceRequest } from './dto/pricing.dto';
import { PriceRulesService } from './price-rules.service';
import { CUSTOMER_GROUP, CUSTOMER_PRICE, PRICE, PRICE_COST } from './pricing.permissions';

const MODEL_PARAM = ApiParam({ name: 'model', description: 'Public model name, URL-encoded' });

@ApiTags('pricing')
@Controller('api/v1/price-rules')
export class PriceRulesController {
  constructor(private readonly rules: PriceRulesService) {}

  @Get()
  @RequirePermission('read', PRICE_COST)
  @ApiOperation({ summary: "The tenant's markup and customer groups (multiplier now, models with an explicit group price): owner and finance" })
  @ApiOkResponse({ type: PriceRulesView })
  list(): Promise<PriceRulesView> {
    return this.rules.rules();
  }

  @Put('markup')
  @RequirePermission('update', PRICE)
  @ApiOperation({ summary: 'Set (or clear with null) the tenant-wide markup: retail = wholesale x factor for models without an own price; a new version, effective now or later' })
  @ApiOkResponse({ type: FactorView })
  @ApiProblems('validation', 'conflict')
  @ApiUnprocessableEntityResponse({ type: ProblemSchema, description: 'The platform tenant has no markup' })
  setMarkup(@Body() body: SetFactorRequest): Promise<FactorView> {
    return this.rules.setMarkup(body);
  }

  @Post('groups')
  @RequirePermission('update', CUSTOMER_GROUP)
  @ApiOperation({ summary: 'Create a customer group (tier)' })
  @ApiCreatedResponse({ type: GroupView })
  @ApiProblems('validation', 'conflict')
  createGroup(@Body() body: CreateGroupRequest): Promise<GroupView> {
    return this.rules.createGroup(body);
  }

  @Put('groups/:groupId/multiplier')
  @RequirePermission('update', CUSTOMER_GROUP)
  @ApiOperation({ summary: "Set (or clear with null) a group's multiplier on its customers' base price (the floor is wholesale)" })
  @ApiOkResponse({ type: FactorView })
  @ApiProblems('validation', 'notFound', 'conflict')
  setMultiplier(@Param('groupId', UuidParam(CUSTOMER_GROUP)) groupId: string, @Body() body: SetFactorRequest): Promise<FactorView> {
    return this.rules.setGroupMultiplier(groupId, body);
  }

  @Put('groups/:groupId/prices/:model')
  @RequirePermission('update', CUSTOMER_GROUP)
  @MODEL_PARAM
  @ApiOperation({ summary: "A group's explicit price of one model (never below wholesale), effective now or later" })
  @ApiOkResponse({ type: OverrideView })
  @ApiProblems('validation', 'notFound', 'conflict')
  @ApiUnprocessableEntityResponse({ type: ProblemSchema, description: 'Unknown model, or below the wholesale floor' })
  setGroupPrice(@Param('groupId', UuidParam(CUSTOMER_GROUP)) groupId: string, @Param('model') model: string, @Body() body: SetPriceRequest): Promise<OverrideView> {
    return this.rules.setGroupPrice(groupId, model, body);
  }

  @Delete('groups/:groupId/prices/:model')
  @RequirePermission('update', CUSTOMER_GROUP)
  @MODEL_PARAM
  @ApiOperation({ summary: "Remove a group's explicit price of one model from now on (a new, clearing version)" })
  @ApiOkResponse({ type: OverrideView })
  @ApiProblems('validation', 'notFound', 'conflict')
  clearGroupPrice(@Param('groupId', UuidParam(CUSTOMER_GROUP)) groupId: string, @Param('model') model: string): Promise<OverrideView> {
    return this.rules.setGroupPrice(groupId, model, null);
  }

  @Put('customers/:customerId/group')
  @RequirePermission('update', CUSTOMER_PRICE)
  @ApiOperation({ summary: 'Put a customer in a group (or in none, with null); a customer is in at most one' })
  @ApiOkResponse({ type: CustomerGroupView })
  @ApiProblems('validation', 'notFound')
  setCustomerGroup(@Param('customerId', UuidParam('customer')) customerId: string, @Body() body: SetCustomerGroupRequest): Promise<CustomerGroupView> {
    return this.rules.setCustomerGroup(customerId, body);
  }

  @Put('customers/:customerId/prices/:model')
  @RequirePermission('update', CUSTOMER_PRICE)
  @MODEL_PARAM
  @ApiOperation({ summary: "A customer's own price of one model (wins over its group's; never below wholesale), effective now or later" })
  @ApiOkResponse({ type: OverrideView })
  @ApiProblems('validation', 'notFound', 'conflict')
  @ApiUnprocessableEntityResponse({ type: ProblemSchema, description: 'Unknown model, or below the wholesale floor' })
  setCustomerPrice(@Param('customerId', UuidParam('customer')) customerId: string, @Param('model') model: string, @Body() body: SetPriceRequest): Promise<OverrideView> {
    return this.rules.setCustomerPrice(customerId, model, body);
  }

  @Delete('customers/:customerId/prices/:model')
  @RequirePermission('update', CUSTOMER_PRICE)
  @MODEL_PARAM
  @ApiOperation({ summary: "Remove a customer's own price of one model from now on" })
  @ApiOkResponse({ type: OverrideView })
  @ApiProblems('validation', 'notFound', 'conflict')
  clearCustomerPrice(@Param('customerId', UuidParam('customer')) customerId: string, @Param('model') model: string): Promise<OverrideView> {
    return this.rules.setCustomerPrice(customerId, model, null);
  }

  @Get('customers/:customerId/prices/:model')
  @RequirePermission('read', PRICE_COST)
  @MODEL_PARAM
  @ApiOperation({ summary: 'What this customer pays for the model now, and which rule won (override, group, own price, markup, inherited; multiplier; floor)' })
  @ApiOkResponse({ type: ResolvedPriceView })
  @ApiProblems('validation', 'notFound')
  resolve(@Param('customerId', UuidParam('customer')) customerId: string, @Param('model') model: string): Promise<ResolvedPriceView> {
    return this.rules.resolve(customerId, model);
  }
}
