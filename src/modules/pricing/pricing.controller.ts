import { Body, Controller, Get, Param, Put, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import { UuidParam } from '../../common/params';
import { ApiProblems, ProblemSchema } from '../../common/problem.schema';
import { TENANT } from '../tenants/tenants.permissions';
import { DiscountView, EffectivePriceView, PriceHistoryView, PriceListQuery, PriceListView, SetDiscountRequest, SetPriceRequest, SetVisibilityRequest } from './dto/pricing.dto';
import { PRICE, PRICE_COST, WHOLESALE_DISCOUNT } from './pricing.permissions';
import { PricingService } from './pricing.service';

const MODEL_PARAM = ApiParam({ name: 'model', description: 'Public model name, URL-encoded (e.g. `gpt-4o-mini`, `meta-llama%2FLlama-3-70B`)' });

@ApiTags('pricing')
@Controller('api/v1/pricing')
export class PricingController {
  constructor(private readonly pricing: PricingService) {}

  @Get()
  @RequirePermission('read', PRICE)
  @ApiOperation({ summary: "The caller's tenant's effective price list now, each price own or inherited (wholesale and margin: owner and finance)" })
  @ApiOkResponse({ type: PriceListView })
  @ApiProblems('validation', 'notFound')
  list(@Query() query: PriceListQuery): Promise<PriceListView> {
    return this.pricing.list(query.tenantId);
  }

  @Put(':model')
  @RequirePermission('update', PRICE)
  @MODEL_PARAM
  @ApiOperation({
    summary:
      "Add a price version for a model in the caller's tenant, effective now or later. Platform owner/finance: the platform list " +
      '(retail for the platform, wholesale for resellers). Reseller owner/finance: its retail price, never below its wholesale price.',
  })
  @ApiOkResponse({ type: EffectivePriceView })
  @ApiProblems('validation', 'conflict')
  @ApiUnprocessableEntityResponse({ type: ProblemSchema, description: 'Unknown model, or below the wholesale floor (the detail names it)' })
  setPrice(@Param('model') model: string, @Body() body: SetPriceRequest): Promise<EffectivePriceView> {
    return this.pricing.setPrice(model, body);
  }

  @Put(':model/visibility')
  @RequirePermission('update', PRICE)
  @MODEL_PARAM
  @ApiOperation({ summary: "Hide a model from the tenant's customers (and /v1/models), or show it again" })
  @ApiOkResponse({ type: EffectivePriceView })
  @ApiProblems('validation', 'notFound')
  @ApiUnprocessableEntityResponse({ type: ProblemSchema, description: 'Unknown model' })
  setVisibility(@Param('model') model: string, @Body() body: SetVisibilityRequest): Promise<EffectivePriceView> {
    return this.pricing.setVisibility(model, body.hidden);
  }

  @Get(':model/history')
  @RequirePermission('read', PRICE_COST)
  @MODEL_PARAM
  @ApiOperation({ summary: 'Every version of a model\'s price, with who set it (a reseller also sees the platform versions it inherits)' })
  @ApiOkResponse({ type: PriceHistoryView })
  @ApiProblems('validation', 'notFound')
  history(@Param('model') model: string): Promise<PriceHistoryView> {
    return this.pricing.history(model);
  }
}

@ApiTags('pricing')
@Controller('api/v1/tenants/:tenantId/wholesale-discount')
export class WholesaleDiscountController {
  constructor(private readonly pricing: PricingService) {}

  @Get()
  @RequirePermission('read', WHOLESALE_DISCOUNT)
  @ApiOperation({ summary: "A reseller's wholesale discount (platform owner/finance; the reseller's own owner/finance)" })
  @ApiOkResponse({ type: DiscountView })
  @ApiProblems('notFound')
  get(@Param('tenantId', UuidParam(TENANT)) tenantId: string): Promise<DiscountView> {
    return this.pricing.getDiscount(tenantId);
  }

  @Put()
  @RequirePermission('update', WHOLESALE_DISCOUNT)
  @ApiOperation({ summary: "Set a reseller's wholesale discount, in percent off the platform list (platform owner and finance)" })
  @ApiOkResponse({ type: DiscountView })
  @ApiProblems('validation', 'notFound')
  set(@Param('tenantId', UuidParam(TENANT)) tenantId: string, @Body() body: SetDiscountRequest): Promise<DiscountView> {
    return this.pricing.setDiscount(tenantId, body);
  }
}
