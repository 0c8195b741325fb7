import { Body, Controller, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiForbiddenResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import { Authenticated, RequirePermission } from '@app/authorization';
import { UuidParam } from '../../common/params';
import { ApiProblems, ProblemSchema } from '../../common/problem.schema';
import { TENANT, TENANT_DOMAIN } from '../tenants/tenants.permissions';
import { DiscountView, EffectivePriceView, PriceHistoryView, PriceListQuery, PriceListView, SetDiscountRequest, SetPriceRequest, SetVisibilityRequest } from './dto/pricing.dto';
import { CreateSubResellerRequest, InviteSubResellerOwnerRequest, SetSpotFactorRequest, SpotFactorView, SubResellerDomainCheck, SubResellerList, SubResellerOwnerView, SubResellerView } from './dto/sub-resellers.dto';
import { PRICE, PRICE_COST, SUB_RESELLER, WHOLESALE_DISCOUNT } from './pricing.permissions';
import { SubResellersService } from './sub-resellers.service';
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

  @Put(':model/spot')
  @RequirePermission('update', PRICE)
  @MODEL_PARAM
  @ApiOperation({
    summary:
      'Add a version of the spot-pool factor for a model (X-Priority: spot requests served by the spot pool pay standard x factor). Platform owner/finance: ' +
      "the platform's (its list and the resellers' wholesale); reseller owner/finance: its retail and its sub-resellers' wholesale. null clears it.",
  })
  @ApiOkResponse({ type: SpotFactorView })
  @ApiProblems('validation', 'conflict')
  @ApiUnprocessableEntityResponse({ type: ProblemSchema, description: 'Unknown model' })
  setSpot(@Param('model') model: string, @Body() body: SetSpotFactorRequest): Promise<SpotFactorView> {
    return this.pricing.setSpotFactor(model, body);
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
  @ApiOperation({ summary: "A reseller's wholesale discount (platform owner/finance; the reseller's own owner/finance; a sub-reseller's parent's owner/finance)" })
  @ApiOkResponse({ type: DiscountView })
  @ApiProblems('notFound')
  get(@Param('tenantId', UuidParam(TENANT)) tenantId: string): Promise<DiscountView> {
    return this.pricing.getDiscount(tenantId);
  }

  @Put()
  @RequirePermission('update', WHOLESALE_DISCOUNT)
  @ApiOperation({
    summary:
      "Set a reseller's wholesale discount, in percent off the platform list (platform owner and finance), or a sub-reseller's, in percent off its " +
      "parent's list price (the parent's owner and finance; refused when a model would cost the child less than the parent pays)",
  })
  @ApiOkResponse({ type: DiscountView })
  @ApiProblems('validation', 'notFound')
  @ApiUnprocessableEntityResponse({ type: ProblemSchema, description: "Below the parent's own cost (price_below_wholesale)" })
  set(@Param('tenantId', UuidParam(TENANT)) tenantId: string, @Body() body: SetDiscountRequest): Promise<DiscountView> {
    return this.pricing.setDiscount(tenantId, body);
  }
}

@ApiTags('pricing')
@Controller('api/v1/sub-resellers')
export class SubResellersController {
  constructor(private readonly subResellers: SubResellersService) {}

  @Get()
  @RequirePermission('read', SUB_RESELLER)
  @ApiOperation({ summary: "Your tenant's sub-resellers with the discount each pays off your list and what each paid you this month (reseller owner and finance)" })
  @ApiOkResponse({ type: SubResellerList })
  list(): Promise<SubResellerList> {
    return this.subResellers.list();
  }

  @Post()
  @RequirePermission('create', SUB_RESELLER)
  @ApiOperation({ summary: 'Create a reseller tenant under yours (reseller owner): it buys from you at your list price less its discount' })
  @ApiCreatedResponse({ type: SubResellerView })
  @ApiProblems('validation', 'conflict')
  @ApiUnprocessableEntityResponse({ type: ProblemSchema, description: "Discount below your own cost (price_below_wholesale)" })
  create(@Body() body: CreateSubResellerRequest): Promise<SubResellerView> {
    return this.subResellers.create(body);
  }

  @Post(':tenantId/owner-invitation')
  @RequirePermission('create', SUB_RESELLER)
  @ApiOperation({
    summary:
      "Invite your sub-reseller's first owner, send the invitation again or invite another address instead (reseller owner; until the sub-reseller has an owner). " +
      "The mail links to the sub-reseller's verified domain; while it has none the invitation waits (status waiting_for_domain): send it again once one is verified.",
  })
  @ApiCreatedResponse({ type: SubResellerOwnerView })
  @ApiProblems('validation', 'notFound', 'conflict')
  inviteOwner(@Param('tenantId', UuidParam(TENANT)) tenantId: string, @Body() body: InviteSubResellerOwnerRequest): Promise<SubResellerOwnerView> {
    return this.subResellers.inviteOwner(tenantId, body);
  }

  @Post(':tenantId/domains/:domainId/verify')
  @HttpCode(200)
  // Who may is a question about the object (the caller's own child): the service answers 404 for
  // anyone else's, 403 for a parent's staff other than its owner; malformed ids are a 400 first.
  @Authenticated()
  @ApiForbiddenResponse({ type: ProblemSchema, description: "The parent's staff other than its owner" })
  @ApiOperation({
    summary:
      "Check a pending domain of your sub-reseller now (reseller owner): the TXT record `_aigateway-challenge.<domain>` or the HTTP token file, as listed with the sub-reseller. " +
      'Once verified it serves, and a first-owner invitation that waited for a domain is mailed.',
  })
  @ApiOkResponse({ type: SubResellerDomainCheck })
  @ApiProblems('notFound', 'conflict')
  verifyDomain(
    @Param('tenantId', UuidParam(TENANT)) tenantId: string,
    @Param('domainId', UuidParam(TENANT_DOMAIN)) domainId: string,
  ): Promise<SubResellerDomainCheck> {
    return this.subResellers.verifyChildDomain(tenantId, domainId);
  }
}
